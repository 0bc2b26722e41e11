"""PostgreSQL crashed (`pg_ctl -m immediate`) and started again, twice, under load.

Both services run as real processes against a PostgreSQL cluster of the test's own (a
shared server cannot be restarted), while police systems keep referring. Every call gets
an answer: 201, or 503 problem+json with Retry-After while the database cannot be reached
(never a 500, never a dropped connection); the services come back by themselves when it
does; every 201 is a case that exists, its routing request not lost; a 503'd referral sent
again with its Idempotency-Key is taken once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from diversion_common.migrations import upgrade
from support.postgres_cluster import ClusterUnavailable, PostgresCluster
from support.processes import start_together, wait_for
from support.referrals import adult_referral
from support.two_services import System, build_system

CLIENTS = 4  # threads referring at once, so calls are in flight at the moment of the crash
PROVIDER = {"name": "Restart Test Service", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "intake@provider.example"}


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster.create()
    except ClusterUnavailable as reason:
        pytest.skip(f"no throw-away PostgreSQL cluster here: {reason}")
    try:
        yield cluster.start()
    finally:
        cluster.destroy()


@pytest.fixture
def system_on_own_postgres(own_postgres: PostgresCluster, tmp_path) -> Iterator[System]:
    urls = {service: own_postgres.create_database(service) for service in ("referral_api", "provider_gateway")}
    for service, url in urls.items():
        upgrade(service, url)
    system = build_system(urls["referral_api"], urls["provider_gateway"], tmp_path, {
        "REFERRAL_API_RELAY_POLL_SECONDS": "0.2",
        "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
        "REFERRAL_API_LOG_LEVEL": "WARNING",
        "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING",
    })
    yield system
    system.stop()


@dataclass
class Call:
    key: str
    body: dict
    started: float
    status: int | None = None
    content_type: str | None = None
    retry_after: str | None = None
    answer: dict | None = None
    transport_error: str | None = None


class Referrer:
    """Police systems referring in a loop, from several threads, every call and its answer kept."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> Referrer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _run(self) -> None:
        with httpx.Client(base_url=self.system.referral_api.url, headers=self.system.headers("police"), timeout=30) as client:
            while not self._stop.is_set():
                call = Call(key=str(uuid.uuid4()), body=adult_referral(), started=time.monotonic())
                try:
                    response = client.post("/v1/referrals", json=call.body, headers={"Idempotency-Key": call.key})
                except httpx.HTTPError as error:
                    call.transport_error = type(error).__name__
                else:
                    call.status = response.status_code
                    call.content_type = response.headers.get("content-type")
                    call.retry_after = response.headers.get("retry-after")
                    call.answer = response.json()
                with self._lock:
                    self.calls.append(call)
                if call.status != 201:
                    time.sleep(0.05)  # a breath between refusals (a real client would wait Retry-After)

    def answered(self, status: int, after: float = 0.0) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.status == status and c.started >= after]


def outbox(system: System, topic: str) -> dict[str, str]:
    """referral_api's outbox messages of a topic, as the administrator sees them: case id -> state."""
    found, cursor = {}, None
    with httpx.Client(base_url=system.referral_api.url, headers=system.headers("referral_admin"), timeout=30) as client:
        while True:
            page = client.get("/v1/admin/messages", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
            assert page.status_code == 200, page.text
            found.update({m["aggregate_id"]: m["state"] for m in page.json()["items"] if m["topic"] == topic})
            if not (cursor := page.json()["next_cursor"]):
                return found


def unhandled_errors(system: System) -> list[str]:
    return [
        line
        for service in (system.referral_api, system.gateway)
        for line in service.log_path.read_text(errors="replace").splitlines()
        if "unhandled error" in line or "Exception in ASGI application" in line or "Traceback" in line
    ]


def test_a_database_crash_under_load_is_503_with_retry_after_and_the_services_recover_by_themselves(
    own_postgres: PostgresCluster, system_on_own_postgres: System
):
    system = system_on_own_postgres
    start_together(system.gateway, system.referral_api)
    assert httpx.post(f"{system.gateway.url}/v1/admin/providers", json=PROVIDER, headers=system.headers("admin")).status_code == 201
    referrer = Referrer(system).start()
    try:
        assert wait_for(lambda: len(referrer.answered(201)) >= 20, timeout=30), "no load before the crash"
        # A crash and restart (every backend killed, some mid-transaction), over in a fraction of a second...
        own_postgres.restart(mode="immediate")
        back_at = time.monotonic()
        assert wait_for(lambda: len(referrer.answered(201, after=back_at)) >= 10, timeout=15), "no 201 after the restart"
        # ...and a crash with the database down until every client has been answered 503 twice.
        own_postgres.stop(mode="immediate")
        down_at = time.monotonic()
        assert wait_for(lambda: len(referrer.answered(503, after=down_at)) >= 2 * CLIENTS, timeout=30), "no 503 while it was down"
        own_postgres.start()
        back_at = time.monotonic()
        # Nobody restarts the services: their pools reconnect by themselves.
        assert wait_for(lambda: referrer.answered(201, after=back_at), timeout=15), "no 201 within 15 s of the database's return"
        recovered_in = min(c.started for c in referrer.answered(201, after=back_at)) - back_at
        wait_for(lambda: len(referrer.answered(201, after=back_at)) >= 20, timeout=15)
    finally:
        referrer.stop()

    calls = referrer.calls
    assert [c for c in calls if c.transport_error] == [], "calls left without an answer"
    assert {c.status for c in calls} == {201, 503}, sorted({c.status for c in calls if c.status not in (201, 503)})
    for call in referrer.answered(503):
        assert call.content_type == "application/problem+json", call
        assert call.retry_after is not None and call.retry_after.isdigit() and int(call.retry_after) > 0, call
        assert call.answer["status"] == 503 and call.answer["type"].endswith("database-unavailable"), call.answer
    assert recovered_in < 10, f"the first call to succeed after the database came back started {recovered_in:.1f} s after"
    assert system.referral_api.process.poll() is None and system.gateway.process.poll() is None

    with httpx.Client(base_url=system.referral_api.url, headers=system.headers("police"), timeout=30) as client:
        # What a 503 asks for: the same call again, with the same Idempotency-Key. It is taken
        # (once: a commit the crash cut short either happened, and is replayed, or did not).
        for call in referrer.answered(503):
            again = client.post("/v1/referrals", json=call.body, headers={"Idempotency-Key": call.key})
            assert again.status_code == 201, again.text
            call.status, call.answer = 201, again.json()
        case_ids = {c.answer["id"] for c in calls}
        assert len(case_ids) == len(calls)
        # Every 201 is a case...
        for case_id in case_ids:
            assert client.get(f"/v1/referrals/{case_id}").status_code == 200, case_id
        # ...whose routing request waits in the outbox, or went (none lost with the crash)...
        queued = outbox(system, "case.routing_requested")
        assert case_ids <= queued.keys() and set(queued.values()) <= {"waiting", "sent"}, set(queued.values())
        # ...and the relays carry messages again, both ways: a new referral is routed at once.
        # (A relay pass the crash cut short leaves its messages leased until the lease runs
        # out, 30 s later: diversion_common/messaging.py, OutboxRelay.)
        fresh = client.post("/v1/referrals", json=adult_referral())
        assert fresh.status_code == 201, fresh.text
        assert wait_for(lambda: client.get(f"/v1/referrals/{fresh.json()['id']}").json()["status"] == "routed", timeout=10)
    assert unhandled_errors(system) == []
