"""Notifications reach the police system signed, retried, logged, and can be sent again.

The worker is the shared one (diversion_common.webhooks), run in a thread against the
test's own database; the police system is a real HTTP server on loopback that
verifies every message with the public `standardwebhooks` package. Retry times
are shrunk so the schedules run in a fraction of a second.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.contracts import CaseStatus
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from diversion_common.webhooks.worker import BackgroundWorker, WorkerSettings
from referral_api.callbacks.service import notify_status_changed
from referral_api.callbacks.tables import CallbackDelivery
from referral_api.callbacks.worker import callback_worker
from support.processes import wait_for
from support.webhook_receiver import Answer, WebhookReceiver

FAST = WorkerSettings(
    # No test here waits out a timeout; a short one made a loaded machine's slow answer a failed try,
    # and the tests that count the tries flaky (an extra try with no status).
    timeout_seconds=10,
    poll_seconds=0.02,
    retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8, max_retry_after_seconds=0.05),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2),
)


@pytest.fixture
def police_system() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def run_worker(referral_engine):
    started: list[BackgroundWorker] = []

    def start(settings: WorkerSettings = FAST) -> BackgroundWorker:
        # The fake police system listens on 127.0.0.1: loopback allowed, as in a local run.
        worker = BackgroundWorker(callback_worker(referral_engine, replace(settings, allow_loopback=True)))
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def register(api, admin, police_system: WebhookReceiver) -> None:
    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": police_system.url}, headers=admin)
    assert response.status_code == 201, response.text
    police_system.secrets = [response.json()["signing_secret"]]


def status_changes(engine, *statuses: CaseStatus) -> uuid.UUID:
    """One case moving through ``statuses``, each change committed on its own."""
    case_id = uuid.uuid4()
    for version, status in enumerate(statuses, start=2):
        with Session(engine) as session:
            notify_status_changed(session, case_id=case_id, force="thames-valley", police_reference="43/00007/26", status=status, version=version)
            session.commit()
    return case_id


def delivery_of(engine, case_id: uuid.UUID) -> CallbackDelivery:
    with Session(engine) as session:
        return session.scalars(select(CallbackDelivery).where(CallbackDelivery.case_id == case_id)).one()


def detail(api, admin, delivery_id: str) -> dict:
    return api.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin).json()


def test_a_status_change_reaches_the_police_system_signed(api, admin, referral_engine, police_system, run_worker):
    register(api, admin, police_system)
    run_worker()
    case_id = status_changes(referral_engine, CaseStatus.accepted_by_provider)

    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "delivered", timeout=10)
    [received] = police_system.received
    assert received.verified
    assert received.webhook_id == delivery_of(referral_engine, case_id).id
    assert received.payload["type"] == "case.status_changed"
    assert received.payload["data"]["status"] == "accepted_by_provider"
    assert received.payload["data"]["case_id"] == str(case_id)


def test_a_503_is_retried_under_the_same_webhook_id_and_every_try_is_logged(api, admin, referral_engine, police_system, run_worker):
    register(api, admin, police_system)
    police_system.answer_next(Answer(503), Answer(503))
    run_worker()
    case_id = status_changes(referral_engine, CaseStatus.completed)

    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "delivered", timeout=10)
    delivery = delivery_of(referral_engine, case_id)
    assert police_system.ids() == [delivery.id] * 3
    attempts = detail(api, admin, delivery.id)["attempts_log"]
    assert [(a["status_code"], a["outcome"]) for a in attempts] == [(503, "retry"), (503, "retry"), (200, "delivered")]


def test_after_the_schedule_it_is_dead_and_the_administrator_redelivers_it(api, admin, referral_engine, police_system, run_worker):
    register(api, admin, police_system)
    police_system.answer_next(*[Answer(503)] * 3)
    run_worker(WorkerSettings(timeout_seconds=10, poll_seconds=0.02, retry=RetryPolicy(0.01, 0.05, max_attempts=3), circuit=FAST.circuit))
    case_id = status_changes(referral_engine, CaseStatus.engagement_refused)

    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "dead", timeout=10)
    delivery_id = delivery_of(referral_engine, case_id).id
    dead = api.get("/v1/admin/deliveries", params={"status": "dead"}, headers=admin).json()["items"]
    assert [(d["id"], d["attempts"], d["last_error"]) for d in dead] == [(delivery_id, 3, "HTTP 503")]

    redelivered = api.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin)
    assert redelivered.status_code == 202 and redelivered.json()["status"] == "pending"
    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "delivered", timeout=10)
    assert police_system.ids() == [delivery_id] * 4
    assert len(police_system.accepted()) == 1


@pytest.mark.parametrize("retry_after", ["²", "9" * 400, "soon", "Tue, 99 Nov 2026 12:01:00 GMT"])
def test_any_retry_after_a_server_sends_is_survived_and_the_try_recorded(api, admin, referral_engine, police_system, run_worker, retry_after):
    register(api, admin, police_system)
    police_system.answer_next(Answer(503, headers={"Retry-After": retry_after}), Answer(429, headers={"Retry-After": retry_after}))
    run_worker()
    case_id = status_changes(referral_engine, CaseStatus.in_programme)

    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "delivered", timeout=10)
    attempts = detail(api, admin, delivery_of(referral_engine, case_id).id)["attempts_log"]
    assert [a["status_code"] for a in attempts] == [503, 429, 200]


def test_during_a_rotation_either_secret_verifies(api, admin, referral_engine, police_system, run_worker):
    register(api, admin, police_system)
    old = police_system.secrets[0]
    rotated = api.post("/v1/admin/police-callbacks/thames-valley/secrets", json={"overlap_hours": 1}, headers=admin)
    police_system.secrets = [rotated.json()["signing_secret"]]  # the police system has switched already
    run_worker()
    first = status_changes(referral_engine, CaseStatus.accepted_by_provider)
    assert wait_for(lambda: delivery_of(referral_engine, first).status == "delivered", timeout=10)
    police_system.secrets = [old]  # or not yet
    second = status_changes(referral_engine, CaseStatus.declined_by_yju)
    assert wait_for(lambda: delivery_of(referral_engine, second).status == "delivered", timeout=10)
    assert all(r.verified for r in police_system.received)


def test_a_stopped_callback_holds_its_notifications_until_it_is_active_again(api, admin, referral_engine, police_system, run_worker):
    register(api, admin, police_system)
    case_id = status_changes(referral_engine, CaseStatus.completed)
    api.put("/v1/admin/police-callbacks/thames-valley", json={"url": police_system.url, "active": False}, headers=admin)
    status_changes(referral_engine, CaseStatus.completed)  # while stopped: not even recorded
    run_worker()
    assert not wait_for(lambda: police_system.received, timeout=0.3)

    api.put("/v1/admin/police-callbacks/thames-valley", json={"url": police_system.url, "active": True}, headers=admin)
    assert wait_for(lambda: delivery_of(referral_engine, case_id).status == "delivered", timeout=10)
    assert len(police_system.received) == 1
