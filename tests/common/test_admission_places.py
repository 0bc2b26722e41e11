"""How many calls the admission gate lets in, from the database pool and the thread pool (no database)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from diversion_common.admission import places_for


@settings(derandomize=True, database=None)
@given(pool=st.integers(1, 500), threads=st.integers(16, 400))
def test_a_call_inside_always_finds_a_thread(pool, threads):
    public, internal = places_for(pool, threads)
    assert public + internal < threads  # threads left over: nobody inside waits for one
    assert public >= threads // 2 and internal >= 1
    assert public <= max(threads // 2, pool)  # more places than connections only up to half the threads


def test_the_places_follow_the_thread_pool_not_a_fixed_forty():
    assert places_for(100, 40) == (28, 4)
    assert places_for(100, 80) == (68, 4)
    assert places_for(1, 80) == (40, 4)  # SQLite's one connection: half the threads
