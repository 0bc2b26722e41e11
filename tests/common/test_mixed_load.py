"""A short mixed load on both services as `make run` starts them: no 5xx, no lost audit record.

The long version with figures is `make bench-mixed` (scripts/bench_mixed.py). This one fails
on any answer of 5xx, any call left unanswered (30 s, or its connection dropped), and any call answered 2xx whose
audit record is not in its service's database.
"""

from __future__ import annotations

import os

import pytest

from support.mixed_load import Deployment, lost_audit_records, report, run_mixed_load

CLIENTS = 60
SECONDS = 6


@pytest.mark.parametrize(("database", "workers"), [("sqlite", 1), ("postgresql", 1), ("postgresql", 2)])
def test_a_mixed_load_gets_no_5xx_and_every_2xx_is_audited(database: str, workers: int, tmp_path) -> None:
    server = os.environ.get("TEST_POSTGRES_URL")
    if database == "postgresql" and not server:
        pytest.skip("TEST_POSTGRES_URL is not set")
    deployment = Deployment(tmp_path / "deployment", database, server, workers=workers)
    try:
        deployment.start()
        result = run_mixed_load(deployment, clients=CLIENTS, seconds=SECONDS, cases=10, timeout=30)
        # Every worker still up: each bound the internal port beside the others (SO_REUSEPORT).
        assert deployment.worker_processes() == {"referral_api": workers, "provider_gateway": workers}
        deployment.stop_services()
        lost = lost_audit_records(deployment, result)
    finally:
        deployment.stop()
    summary = report(result, database)
    assert len(result.calls) > CLIENTS, summary
    # A call with no answer within 30 s is what the services blocking each other looked like. A dropped
    # connection fails too: the rare ReadError once seen here was the client reusing a connection idle for
    # as long as uvicorn keeps one (5 s both), and the load's clients now give one up after 2 s.
    assert [(c.kind, c.status) for c in result.server_errors() + result.unanswered()] == [], summary
    assert [(c.kind, c.status) for c in lost] == [], summary
    assert {kind for kind, calls in result.by_kind().items() if any(200 <= c.status < 300 for c in calls if isinstance(c.status, int))} == {
        "police_post", "police_read", "provider_event", "provider_pull"
    }, summary
