"""A force's callback URL cannot point referral_api at this machine or a private network
(docs/SECURITY.md, item 1): refused when saved (API and CLI), refused at every delivery by what
the name resolves to, with nothing learnt about the target; an old notification never follows a
changed URL. The police system is a real HTTP server on loopback; DNS answers come from a
stand-in resolver."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.contracts import CaseStatus
from diversion_common.credentials import Role
from diversion_common.webhooks import transport
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from diversion_common.webhooks.worker import BackgroundWorker, WorkerSettings
from referral_api.config import Settings
from referral_api.main import create_app
from referral_api.callbacks.service import notify_status_changed
from referral_api.callbacks.tables import CallbackDelivery
from referral_api.callbacks.worker import callback_worker
from support.processes import cli, wait_for
from support.webhook_receiver import Answer, WebhookReceiver

# The URL policy is decided apart from the database: one database is enough.
pytestmark = pytest.mark.database_independent

PRODUCTION = WorkerSettings(
    timeout_seconds=0.5,
    poll_seconds=0.02,
    retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2),
)
LOCAL_RUN = replace(PRODUCTION, allow_loopback=True)


@pytest.fixture
def production_api(referral_db: str) -> Iterator[TestClient]:
    """referral_api as deployed: REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS left at its default (off)."""
    app = create_app(Settings(database_url=referral_db, gateway_api_key=None, run_delivery_worker=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def police_systems() -> Iterator[list[WebhookReceiver]]:
    started: list[WebhookReceiver] = []
    yield started
    for server in started:
        server.stop()


def police_system(police_systems: list[WebhookReceiver]) -> WebhookReceiver:
    server = WebhookReceiver().start()
    police_systems.append(server)
    return server


@pytest.fixture
def run_worker(referral_engine):
    started: list[BackgroundWorker] = []

    def start(settings: WorkerSettings) -> BackgroundWorker:
        worker = BackgroundWorker(callback_worker(referral_engine, settings))
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def status_change(engine) -> uuid.UUID:
    case_id = uuid.uuid4()
    with Session(engine) as session:
        notify_status_changed(session, case_id=case_id, force="thames-valley", police_reference="43/00009/26", status=CaseStatus.completed, version=5)
        session.commit()
    return case_id


def delivery_of(engine, case_id: uuid.UUID) -> CallbackDelivery:
    with Session(engine) as session:
        return session.scalars(select(CallbackDelivery).where(CallbackDelivery.case_id == case_id)).one()


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9000/hook", "http://2130706433:9000/", "https://[::1]/hook", "https://169.254.169.254/", "https://[fd00::5]/",
     "https://metadata.google.internal/", "https://192.168.0.10/hook", "https://0.0.0.0/"],
)
def test_a_callback_to_this_machine_or_a_private_network_is_a_422_and_saves_nothing(production_api, issue, url):
    admin = issue(Role.admin)
    response = production_api.put("/v1/admin/police-callbacks/thames-valley", json={"url": url}, headers=admin)

    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/url"]
    assert production_api.get("/v1/admin/police-callbacks", headers=admin).json() == []


def test_a_callback_cannot_be_changed_to_point_at_this_machine(production_api, issue):
    admin = issue(Role.admin)
    assert production_api.put("/v1/admin/police-callbacks/thames-valley", json={"url": "https://police.example/hook"}, headers=admin).status_code == 201
    response = production_api.put("/v1/admin/police-callbacks/thames-valley", json={"url": "http://[::1]:9000/"}, headers=admin)
    assert response.status_code == 422
    assert production_api.get("/v1/admin/police-callbacks/thames-valley", headers=admin).json()["url"] == "https://police.example/hook"


def test_the_cli_refuses_this_machine_unless_the_development_setting_allows_it(referral_db):
    args = ("callbacks", "set", "--force", "hampshire", "--url", "http://127.0.0.1:9000/hook")
    refused = cli({"REFERRAL_API_DATABASE_URL": referral_db, "REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS": "false"}, *args)
    assert refused.returncode == 2 and "loopback" in refused.stderr
    allowed = cli({"REFERRAL_API_DATABASE_URL": referral_db, "REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS": "true"}, *args)
    assert allowed.returncode == 0, allowed.stderr


def test_a_name_resolving_to_a_private_address_at_delivery_is_never_connected_to(api, admin, referral_engine, police_systems, run_worker, monkeypatch):
    server = police_system(police_systems)
    port = server.url.split(":")[2].split("/")[0]

    async def resolve(_host: str, _port: int):
        return [ipaddress.ip_address("10.0.0.7"), ipaddress.ip_address("127.0.0.1")]

    monkeypatch.setattr(transport, "resolve", resolve)
    assert api.put("/v1/admin/police-callbacks/thames-valley", json={"url": f"https://rebound.police.example:{port}/hook"}, headers=admin).status_code == 201
    case_id = status_change(referral_engine)
    run_worker(PRODUCTION)

    assert wait_for(lambda: delivery_of(referral_engine, case_id).attempts >= 2, timeout=10)
    assert server.received == []
    detail = api.get(f"/v1/admin/deliveries/{delivery_of(referral_engine, case_id).id}", headers=admin).json()
    assert detail["last_error"] == "refused_target"
    assert {(a["status_code"], a["latency_ms"], a["error"]) for a in detail["attempts_log"]} == {(None, 0.0, "refused_target")}


def test_after_the_url_changes_an_old_notification_is_not_redelivered_to_the_new_one(api, admin, referral_engine, police_systems, run_worker):
    first, second = police_system(police_systems), police_system(police_systems)
    registered = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": first.url}, headers=admin).json()
    first.secrets = second.secrets = [registered["signing_secret"]]
    first.answer_next(Answer(503), Answer(503))
    case_id = status_change(referral_engine)
    run_worker(replace(LOCAL_RUN, retry=RetryPolicy(0.01, 0.02, max_attempts=2)))
    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "dead", timeout=10)
    delivery_id = delivery_of(referral_engine, case_id).id

    assert api.put("/v1/admin/police-callbacks/thames-valley", json={"url": second.url}, headers=admin).status_code == 200
    response = api.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin)

    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("/endpoint-url-changed")
    # A new change of status goes to the new URL, as the administrator meant; the old one never does.
    new_case = status_change(referral_engine)
    assert wait_for(lambda: delivery_of(referral_engine, new_case).status == "delivered", timeout=10)
    assert second.ids() == [delivery_of(referral_engine, new_case).id]
    assert delivery_of(referral_engine, case_id).status == "dead"
