"""A provider's webhook_url cannot point the gateway at this machine or a private network
(docs/SECURITY.md, item 1): refused when saved, in every spelling; refused again at every
delivery by what the name resolves to (DNS rebinding), with nothing learnt about the target;
the answer's body read no further than a few KB; and an old message never follows a changed URL.

The providers are real HTTP servers on loopback (support/webhook_receiver.py); a name's DNS
answers come from a stand-in resolver, since the tests cannot own real names.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.webhooks import transport
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from provider_gateway.config import Settings
from provider_gateway.deliveries.tables import Delivery, DeliveryAttempt
from provider_gateway.deliveries.worker import BackgroundWorker, DeliveryWorker, WorkerSettings
from provider_gateway.main import create_app
from support.fake_provider import Answer, FakeProvider
from support.gateway_flows import delivery_for, register_provider, route_a_case
from support.processes import wait_for

# The URL policy is decided apart from the database: one database is enough.
pytestmark = pytest.mark.database_independent

# As in production: no loopback.
PRODUCTION = WorkerSettings(
    timeout_seconds=0.5,
    poll_seconds=0.02,
    retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2),
)
LOCAL_RUN = replace(PRODUCTION, allow_loopback=True)

REFUSED_WHEN_SAVED = [
    "http://127.0.0.1:9100/",
    "http://2130706433:9100/",
    "http://0x7f.1:9100/",
    "https://[::1]:9100/",
    "https://[::ffff:127.0.0.1]/",
    "https://localhost/hook",
    "https://169.254.169.254/latest/meta-data/",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://10.0.0.8/hook",
    "https://[fd00::1]/hook",
    "https://0.0.0.0:9100/",
    "http://provider.example/hook",
]


@pytest.fixture
def production_gateway(gateway_db: str) -> Iterator[TestClient]:
    """The gateway as deployed: ALLOW_LOOPBACK_WEBHOOKS left at its default (off)."""
    app = create_app(Settings(database_url=gateway_db, referral_api_key=None, run_delivery_worker=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def receivers() -> Iterator[list[FakeProvider]]:
    started: list[FakeProvider] = []
    yield started
    for receiver in started:
        receiver.stop()


def receiver(receivers: list[FakeProvider]) -> FakeProvider:
    server = FakeProvider().start()
    receivers.append(server)
    return server


@pytest.fixture
def run_worker(gateway_engine):
    started: list[BackgroundWorker] = []

    def start(settings: WorkerSettings) -> BackgroundWorker:
        worker = BackgroundWorker(DeliveryWorker(gateway_engine, settings))
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:
    """Stands in for DNS: the addresses each name resolves to."""
    answers: dict[str, list[str]] = {}

    async def resolve(host: str, _port: int):
        return [ipaddress.ip_address(a) for a in answers[host]]

    monkeypatch.setattr(transport, "resolve", resolve)
    return answers


def port_of(server: FakeProvider) -> int:
    return int(server.url.split(":")[2].split("/")[0])


def attempts_of(engine, delivery_id: str) -> list[DeliveryAttempt]:
    with Session(engine) as session:
        return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.attempt)))


def provider_body(url: str) -> dict:
    return {
        "name": "Webhook Drug Service", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
        "delivery_mode": "webhook", "webhook_url": url, "contact_email": "intake@provider.example",
    }


# --- when a URL is saved -------------------------------------------------------------


@pytest.mark.parametrize("url", REFUSED_WHEN_SAVED)
def test_a_webhook_url_to_this_machine_or_a_private_network_is_a_422_and_saves_nothing(production_gateway, issue_gateway_key, url):
    from diversion_common.credentials import Role

    admin = issue_gateway_key(Role.admin)
    response = production_gateway.post("/v1/admin/providers", json=provider_body(url), headers=admin)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["/webhook_url"]
    assert production_gateway.get("/v1/admin/providers", headers=admin).json() == []


def test_a_provider_cannot_be_changed_to_point_at_this_machine(production_gateway, issue_gateway_key):
    from diversion_common.credentials import Role

    admin = issue_gateway_key(Role.admin)
    created = production_gateway.post("/v1/admin/providers", json=provider_body("https://provider.example/hook"), headers=admin).json()

    for url in ("http://2130706433:9100/", "https://169.254.169.254/"):
        response = production_gateway.patch(f"/v1/admin/providers/{created['id']}", json={"webhook_url": url}, headers=admin)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "/webhook_url"
    assert production_gateway.get(f"/v1/admin/providers/{created['id']}", headers=admin).json()["webhook_url"] == "https://provider.example/hook"


def test_a_local_run_may_use_this_machine_but_still_no_private_network(gateway, admin):
    """The `gateway` fixture runs with PROVIDER_GATEWAY_ALLOW_LOOPBACK_WEBHOOKS on, as `make run` does."""
    assert gateway.post("/v1/admin/providers", json=provider_body("http://127.0.0.1:9100/hook"), headers=admin).status_code == 201
    for url in ("https://169.254.169.254/", "https://10.0.0.8/", "https://metadata.google.internal/", "http://provider.example/"):
        response = gateway.post("/v1/admin/providers", json={**provider_body(url), "name": f"Other {url}"}, headers=admin)
        assert response.status_code == 422, (url, response.text)


# --- at every delivery ---------------------------------------------------------------


@pytest.mark.parametrize("resolves_to", [["127.0.0.1"], ["169.254.169.254"], ["10.0.0.7"], ["93.184.216.34", "127.0.0.1"]])
def test_a_name_resolving_to_a_refused_address_at_delivery_is_never_connected_to(
    gateway, admin, referral_service, gateway_engine, receivers, run_worker, dns, resolves_to
):
    """Public when saved, rebound since: the worker resolves, checks every answer and refuses."""
    provider = receiver(receivers)
    dns["rebound.provider.example"] = resolves_to
    register_provider(gateway, admin, webhook_url=f"https://rebound.provider.example:{port_of(provider)}/hook")
    case_id = route_a_case(gateway, referral_service)
    run_worker(PRODUCTION)

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).attempts >= 2, timeout=10)
    delivery = delivery_for(gateway_engine, case_id)
    assert delivery.status == "pending" and delivery.last_error == "refused_target"
    assert provider.received == []
    detail = gateway.get(f"/v1/admin/deliveries/{delivery.id}", headers=admin).json()
    assert detail["last_error"] == "refused_target"
    for attempt in detail["attempts_log"]:
        assert (attempt["status_code"], attempt["latency_ms"], attempt["error"]) == (None, 0.0, "refused_target")


def test_a_refused_target_tells_nothing_of_its_ports(gateway, admin, referral_service, gateway_engine, receivers, run_worker, dns):
    """An open port and a closed one behind refused names look the same to the administrator."""
    open_port = port_of(receiver(receivers))
    closed_port = port_of(receiver(receivers))
    receivers[-1].stop()
    receivers.pop()
    dns["open.provider.example"] = dns["closed.provider.example"] = ["127.0.0.1"]
    register_provider(gateway, admin, name="Open", webhook_url=f"https://open.provider.example:{open_port}/hook")
    register_provider(gateway, admin, name="Closed", district="oxford", webhook_url=f"https://closed.provider.example:{closed_port}/hook")
    cases = [route_a_case(gateway, referral_service), route_a_case(gateway, referral_service, district="oxford")]
    run_worker(PRODUCTION)

    assert wait_for(lambda: all(delivery_for(gateway_engine, c).attempts >= 1 for c in cases), timeout=10)
    shown = []
    for case_id in cases:
        detail = gateway.get(f"/v1/admin/deliveries/{delivery_for(gateway_engine, case_id).id}", headers=admin).json()
        shown.append({k: v for k, v in detail["attempts_log"][0].items() if k != "started_at"})
    assert shown[0] == shown[1] == {"attempt": 1, "status_code": None, "latency_ms": 0.0, "error": "refused_target", "outcome": "retry"}


def test_the_worker_connects_to_the_address_it_checked(gateway, admin, referral_service, gateway_engine, receivers, run_worker, dns):
    """In a local run a name may resolve to this machine: the delivery goes to that very address,
    the one the stand-in resolver gave and the check passed (the system's resolver is never asked)."""
    provider = receiver(receivers)
    dns["provider.localhost"] = ["127.0.0.1"]
    record = register_provider(gateway, admin, webhook_url=f"http://provider.localhost:{port_of(provider)}/webhooks/diversion-link")
    provider.secrets = [record["signing_secret"]]
    case_id = route_a_case(gateway, referral_service)
    run_worker(LOCAL_RUN)

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    [received] = provider.received
    assert received.verified


def test_an_endless_answer_is_read_no_further_than_a_few_kilobytes(gateway, admin, referral_service, gateway_engine, receivers, run_worker):
    """200 with a body announced as 1 GB, of which 64 KiB comes and the rest never: the status is
    what counts, so the try ends at once, delivered, instead of waiting out its timeout."""
    provider = receiver(receivers)
    provider.secrets = [register_provider(gateway, admin, webhook_url=provider.url)["signing_secret"]]
    provider.answer_next(Answer(200, endless_body_bytes=1 << 30))
    case_id = route_a_case(gateway, referral_service)
    run_worker(LOCAL_RUN)

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    [attempt] = attempts_of(gateway_engine, delivery_for(gateway_engine, case_id).id)
    assert attempt.status_code == 200 and attempt.error is None
    assert attempt.latency_ms < PRODUCTION.timeout_seconds * 1000 / 2


# --- an old message does not follow a changed URL -----------------------------------------


def delivered_once(gateway, admin, referral_service, gateway_engine, receivers, run_worker) -> tuple[str, str, str, FakeProvider, BackgroundWorker]:
    """A provider, and a referral delivered to it; returns the provider, case and delivery ids, the receiver, the worker."""
    first = receiver(receivers)
    record = register_provider(gateway, admin, webhook_url=first.url)
    first.secrets = [record["signing_secret"]]
    case_id = route_a_case(gateway, referral_service)
    worker = run_worker(LOCAL_RUN)
    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    return record["id"], case_id, delivery_for(gateway_engine, case_id).id, first, worker


def test_after_the_url_changes_an_old_message_is_not_redelivered_to_the_new_one(
    gateway, admin, referral_service, gateway_engine, receivers, run_worker
):
    provider_id, _case_id, delivery_id, first, _worker = delivered_once(gateway, admin, referral_service, gateway_engine, receivers, run_worker)
    second = receiver(receivers)
    assert gateway.patch(f"/v1/admin/providers/{provider_id}", json={"webhook_url": second.url}, headers=admin).status_code == 200

    response = gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin)

    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/endpoint-url-changed")
    assert response.json()["code"] == "endpoint_url_changed"
    time.sleep(0.3)
    assert second.received == []
    assert gateway.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin).json()["status"] == "delivered"

    # Back at the URL it went to, it may go again: to that URL only.
    assert gateway.patch(f"/v1/admin/providers/{provider_id}", json={"webhook_url": first.url}, headers=admin).status_code == 200
    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 202
    assert wait_for(lambda: len(first.received) == 2, timeout=10)
    assert first.ids() == [delivery_id, delivery_id] and second.received == []


def test_a_redelivery_queued_before_the_url_changed_is_not_sent_to_the_new_one(
    gateway, admin, referral_service, gateway_engine, receivers, run_worker
):
    provider_id, case_id, delivery_id, _first, worker = delivered_once(gateway, admin, referral_service, gateway_engine, receivers, run_worker)
    worker.stop()
    second = receiver(receivers)
    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 202
    assert gateway.patch(f"/v1/admin/providers/{provider_id}", json={"webhook_url": second.url}, headers=admin).status_code == 200

    run_worker(LOCAL_RUN)

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "dead", timeout=10)
    assert delivery_for(gateway_engine, case_id).last_error == "endpoint_url_changed"
    assert second.received == []


def test_a_message_not_yet_delivered_follows_the_endpoint_to_its_new_url(
    gateway, admin, referral_service, gateway_engine, receivers, run_worker
):
    """The URL was wrong (or the endpoint moved): what is still waiting goes to the new one."""
    broken = receiver(receivers)
    record = register_provider(gateway, admin, webhook_url=broken.url)
    broken.secrets = [record["signing_secret"]]
    broken.answer_next(*[Answer(503)] * 1000)
    case_id = route_a_case(gateway, referral_service)
    run_worker(LOCAL_RUN)
    assert wait_for(lambda: delivery_for(gateway_engine, case_id).attempts >= 2, timeout=10)

    fixed = receiver(receivers)
    fixed.secrets = [record["signing_secret"]]
    assert gateway.patch(f"/v1/admin/providers/{record['id']}", json={"webhook_url": fixed.url}, headers=admin).status_code == 200

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    assert [r.webhook_id for r in fixed.accepted()] == [delivery_for(gateway_engine, case_id).id]


def test_a_delivery_made_before_its_url_was_recorded_is_not_redelivered(gateway, admin, referral_service, gateway_engine, receivers):
    """Rows from before the migration do not know where they went: none is re-sent anywhere."""
    provider = receiver(receivers)
    register_provider(gateway, admin, webhook_url=provider.url)
    case_id = route_a_case(gateway, referral_service)
    with Session(gateway_engine) as session:
        row = session.get(Delivery, delivery_for(gateway_engine, case_id).id)
        row.status, row.attempts = "dead", 24
        session.commit()
        delivery_id = row.id
    response = gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin)
    assert response.status_code == 409 and response.json()["code"] == "endpoint_url_changed"
