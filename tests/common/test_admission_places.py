"""How many calls the admission gate lets in, from the database and the thread pool (no database)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from diversion_common.admission import CALLS_AT_ONCE_ON_A_SERVER, places_for


@settings(derandomize=True, database=None)
@given(pool=st.integers(1, 500), threads=st.integers(16, 400), one_writer=st.booleans())
def test_a_call_inside_always_finds_a_thread(pool, threads, one_writer):
    public, internal = places_for(pool, threads, one_writer=one_writer)
    assert public + internal < threads  # threads left over: nobody inside waits for one
    assert public >= 1 and internal >= 1
    if one_writer:
        assert public >= threads // 2  # the one writer is never left idle for want of callers
    else:
        assert public <= min(pool, CALLS_AT_ONCE_ON_A_SERVER)  # never more than the CPU runs at once


def test_sqlite_lets_in_half_the_threads_and_a_server_a_few_calls():
    assert places_for(1, 40, one_writer=True) == (20, 4)
    assert places_for(1, 80, one_writer=True) == (40, 4)  # the thread pool as the process set it
    assert places_for(20, 40, one_writer=False) == (CALLS_AT_ONCE_ON_A_SERVER, 4)
    assert places_for(3, 40, one_writer=False) == (3, 4)  # a small pool: no more than its connections
