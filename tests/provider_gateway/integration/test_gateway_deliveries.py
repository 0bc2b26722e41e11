"""Delivery to a provider's endpoint: signed, retried, logged, never stuck.

The worker runs in a thread against the test's own database; the provider is a
real HTTP server on loopback that verifies signatures with `standardwebhooks`.
Retry and pause times are shrunk so the schedules run in a fraction of a second.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from provider_gateway.deliveries.tables import DeliveryAttempt, ProviderCircuit
from provider_gateway.deliveries.worker import BackgroundWorker, DeliveryWorker, WorkerSettings
from support.fake_provider import Answer, FakeProvider
from support.gateway_flows import delivery_for, register_provider, route_a_case
from support.processes import wait_for

FAST = WorkerSettings(
    # Only the hanging provider's test waits out a timeout (its own, short): a short one everywhere
    # made a loaded machine's slow answer a failed try that never reached the provider, and the
    # tests that count the tries flaky (a CI run saw 3 attempts and 2 received).
    timeout_seconds=10,
    poll_seconds=0.02,
    retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2),
)


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def run_worker(gateway_engine):
    started: list[BackgroundWorker] = []

    def start(settings: WorkerSettings = FAST) -> BackgroundWorker:
        # The fake providers listen on 127.0.0.1: loopback allowed, as in a local run.
        worker = BackgroundWorker(DeliveryWorker(gateway_engine, replace(settings, allow_loopback=True)))
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def register(gateway, admin, gateway_engine, fake: FakeProvider, name: str = "Webhook Drug Service", district: str = "reading") -> str:
    provider = register_provider(gateway, admin, name=name, district=district, webhook_url=fake.url)
    fake.secrets = [provider["signing_secret"]]
    return provider["id"]


def attempts_of(engine, delivery_id: str) -> list[DeliveryAttempt]:
    with Session(engine) as session:
        return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.attempt)))


def test_a_routed_case_is_delivered_signed_with_only_what_the_provider_needs(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    case_id = route_a_case(gateway, referral_service)
    run_worker()

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    [received] = fake_provider.received
    assert received.verified
    assert received.webhook_id == delivery_for(gateway_engine, case_id).id
    assert received.payload["type"] == "referral.created"
    data = received.payload["data"]
    assert data["case_id"] == case_id
    assert data["links"]["status"].endswith(f"/v1/provider/referrals/{case_id}")
    for withheld in ("officer", "checks", "body_worn_video_reference", "police_reference"):
        assert withheld not in data


def test_five_failures_then_success_is_delivered_once_with_six_attempts_logged(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(*[Answer(500)] * 5, Answer(200))
    case_id = route_a_case(gateway, referral_service)
    run_worker()

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    delivery = delivery_for(gateway_engine, case_id)
    attempts = attempts_of(gateway_engine, delivery.id)
    assert [a.status_code for a in attempts] == [500] * 5 + [200]
    assert [a.outcome for a in attempts] == ["retry"] * 5 + ["delivered"]
    assert all(a.latency_ms >= 0 and a.started_at for a in attempts)
    assert len(fake_provider.accepted()) == 1
    assert set(fake_provider.ids()) == {delivery.id}
    started = [a.started_at for a in attempts]
    assert started == sorted(started)


def test_a_hanging_provider_is_timed_out_and_retried(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(Answer(200, hang_seconds=2.0))
    case_id = route_a_case(gateway, referral_service)
    run_worker(replace(FAST, timeout_seconds=0.5))

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    attempts = attempts_of(gateway_engine, delivery_for(gateway_engine, case_id).id)
    assert attempts[0].error == "timeout" and attempts[0].status_code is None
    assert attempts[0].latency_ms < 1500
    assert attempts[-1].status_code == 200


def test_a_slow_provider_does_not_hold_up_another(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    slow, released = FakeProvider().start(), threading.Event()
    try:
        register(gateway, admin, gateway_engine, slow, name="Slow Service", district="oxford")
        register(gateway, admin, gateway_engine, fake_provider, name="Quick Service", district="reading")
        slow.answer_next(*[Answer(200, hang_until=released)] * 10)
        slow_cases = [route_a_case(gateway, referral_service, district="oxford") for _ in range(6)]
        # A timeout longer than the wait below: a quick delivery queued behind the slow ones could not make it.
        run_worker(WorkerSettings(timeout_seconds=60.0, poll_seconds=0.02, per_endpoint_concurrency=2, retry=FAST.retry))
        assert wait_for(lambda: len(slow.received) == 2, timeout=15)  # both of the slow provider's slots are taken
        quick = [route_a_case(gateway, referral_service) for _ in range(3)]
        assert wait_for(lambda: all(delivery_for(gateway_engine, c).status == "delivered" for c in quick), timeout=15)
        assert len(slow.received) == 2  # delivered while the slow provider still held both its slots
        assert {delivery_for(gateway_engine, c).status for c in slow_cases} == {"pending"}
    finally:
        released.set()
        slow.stop()


def test_a_client_error_is_not_retried(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(Answer(400))
    case_id = route_a_case(gateway, referral_service)
    run_worker()

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "dead", timeout=10)
    time.sleep(0.3)
    assert len(fake_provider.received) == 1
    assert "400" in delivery_for(gateway_engine, case_id).last_error


def test_retry_after_is_honoured(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(Answer(429, headers={"Retry-After": "1"}))
    case_id = route_a_case(gateway, referral_service)
    run_worker()

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    first, second = fake_provider.received
    assert second.at - first.at >= 0.95


def test_after_the_schedule_the_delivery_is_dead(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(*[Answer(503)] * 20)
    case_id = route_a_case(gateway, referral_service)
    run_worker(WorkerSettings(timeout_seconds=10, poll_seconds=0.02, retry=RetryPolicy(0.01, 0.05, max_attempts=3), circuit=FAST.circuit))

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "dead", timeout=10)
    assert delivery_for(gateway_engine, case_id).attempts == 3
    assert len(fake_provider.received) == 3


def test_a_failing_provider_is_paused_then_resumed_when_it_answers(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    provider_id = register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(*[Answer(500)] * 3)
    case_id = route_a_case(gateway, referral_service)
    run_worker(WorkerSettings(timeout_seconds=10, poll_seconds=0.02, retry=RetryPolicy(0.01, 0.02, 20), circuit=CircuitPolicy(failure_threshold=3, pause_seconds=0.5)))

    def circuit() -> ProviderCircuit | None:
        with Session(gateway_engine) as session:
            return session.get(ProviderCircuit, uuid.UUID(provider_id))

    assert wait_for(lambda: (c := circuit()) is not None and c.paused_until is not None, timeout=10)
    paused_at = time.monotonic()
    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    # Three quick failures, then nothing until the pause ended, then the probe that succeeded.
    assert len(fake_provider.received) == 4
    assert fake_provider.received[3].at - fake_provider.received[2].at >= 0.45
    assert time.monotonic() - paused_at >= 0.4
    assert circuit().consecutive_failures == 0


def test_a_withdrawn_case_is_not_delivered(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    register(gateway, admin, gateway_engine, fake_provider)
    case_id = route_a_case(gateway, referral_service)
    message = {"id": str(uuid.uuid4()), "topic": "case.status_changed", "aggregate_id": case_id,
               "payload": {"case_id": case_id, "status": "withdrawn", "version": 99, "reason": "charged_instead"}, "created_at": datetime.now(UTC).isoformat()}
    gateway.post("/internal/v1/messages", json=message, headers=referral_service)
    run_worker()
    time.sleep(0.3)
    assert delivery_for(gateway_engine, case_id).status == "cancelled"
    assert fake_provider.received == []


def test_a_backlog_for_an_unusable_provider_keeps_no_other_waiting(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    other = FakeProvider().start()
    try:
        stuck = register(gateway, admin, gateway_engine, other, name="Paused Service", district="oxford")
        stuck_cases = [route_a_case(gateway, referral_service, district="oxford") for _ in range(120)]
        # Its circuit open for an hour: its backlog cannot be sent now. (A disabled provider's
        # referrals are cancelled instead: test_disabled_providers.py.)
        with Session(gateway_engine) as session:
            session.add(ProviderCircuit(provider_id=uuid.UUID(stuck), consecutive_failures=99, paused_until=datetime.now(UTC).replace(year=2100)))
            session.commit()
        register(gateway, admin, gateway_engine, fake_provider, name="Working Service", district="reading")
        case_id = route_a_case(gateway, referral_service)
        run_worker(WorkerSettings(timeout_seconds=10, poll_seconds=0.02, batch_size=100, retry=FAST.retry, circuit=FAST.circuit))

        assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
        assert other.received == []
        assert delivery_for(gateway_engine, stuck_cases[0]).status == "pending"
    finally:
        other.stop()


def test_a_retry_is_tried_when_it_comes_due_not_at_the_next_look(gateway, admin, referral_service, gateway_engine, fake_provider, run_worker):
    """The worker waits for the earliest try to come due: a retry 1 s away goes then, though
    nothing wakes the worker and its looks are 30 s apart."""
    register(gateway, admin, gateway_engine, fake_provider)
    fake_provider.answer_next(Answer(429, headers={"Retry-After": "1"}), Answer(200))
    case_id = route_a_case(gateway, referral_service)
    run_worker(WorkerSettings(timeout_seconds=10, poll_seconds=30.0, idle_seconds=30.0, retry=FAST.retry, circuit=FAST.circuit))

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    first, second = fake_provider.received
    assert 0.95 <= second.at - first.at < 3.0


def test_an_idle_worker_looks_for_work_once_per_idle_wait(gateway_engine, run_worker):
    """With nothing pending, a short poll_seconds does not make the worker look more often."""
    worker = run_worker(WorkerSettings(poll_seconds=0.01, idle_seconds=0.5))
    assert wait_for(lambda: (beat := worker.heartbeat.last()) is not None and beat.passes >= 1, timeout=10)
    before = worker.heartbeat.last().passes
    time.sleep(2.0)
    looks = worker.heartbeat.last().passes - before
    assert 2 <= looks <= 6
