"""The domain figures /metrics serves, read from each service's own database at scrape time
(diversion_common/domain_metrics.py, <service>/metrics.py): both services in process on real
databases (support/linked_services.py), their /metrics body made as the internal listener makes it.
That it is served only there is tests/common/test_metrics_endpoint.py's part."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from types import SimpleNamespace

from prometheus_client import Counter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from sqlmodel import Session

from diversion_common.database import make_engine, utcnow
from diversion_common.metrics import DatabaseCollector, count_on_commit, exposition
from provider_gateway.deliveries.tables import ProviderCircuit
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.metrics import database_probes as gateway_probes
from referral_api import metrics as referral_metrics
from referral_api.breaches.scheduler import BreachScheduler
from referral_api.breaches.tables import BreachRequestRow
from diversion_common.webhooks.policy import CircuitPolicy
from support.breach_cases import accepted_case, breach_requests, miss, provider
from support.gateway_flows import register_provider


def scrape(app) -> dict[tuple[str, tuple], float]:
    """Every sample of the app's /metrics body, by name and labels."""
    body, content_type = exposition(app)
    assert content_type.startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_the_outbox_depth_and_the_age_of_its_oldest_unsent_message(linked):
    samples = scrape(linked.gateway.app)
    assert sample(samples, "diversion_outbox_messages", service="provider_gateway") == 0
    assert sample(samples, "diversion_outbox_oldest_message_age_seconds", service="provider_gateway") == 0
    now = utcnow()
    # Written ten minutes ago and not due for an hour (as one backing off would be): the relay leaves it.
    waiting = OutboxMessage(topic="case.routed", aggregate_id=uuid.uuid4(), payload={}, created_at=now - timedelta(minutes=10),
                            available_at=now + timedelta(hours=1))
    with Session(linked.gateway_engine) as session:
        session.add(waiting)
        session.commit()
        waiting_id = waiting.id
    samples = scrape(linked.gateway.app)
    assert sample(samples, "diversion_outbox_messages", service="provider_gateway") == 1
    assert 600 <= sample(samples, "diversion_outbox_oldest_message_age_seconds", service="provider_gateway") < 700
    # Each service reports its own outbox only.
    assert sample(scrape(linked.api.app), "diversion_outbox_messages", service="referral_api") == 0

    with Session(linked.gateway_engine) as session:
        session.execute(update(OutboxMessage).where(OutboxMessage.id == waiting_id).values(sent_at=utcnow()))
        session.commit()
    samples = scrape(linked.gateway.app)
    assert sample(samples, "diversion_outbox_messages", service="provider_gateway") == 0
    assert sample(samples, "diversion_outbox_oldest_message_age_seconds", service="provider_gateway") == 0


def test_breach_requests_by_state_and_the_reviews_past_their_deadline(linked):
    samples = scrape(linked.api.app)
    assert sample(samples, "diversion_breach_requests", state="pending_oic_review") == 0
    assert sample(samples, "diversion_breach_requests_review_overdue") == 0
    assert sample(samples, "diversion_breach_requests_review_overdue_seconds") is None  # none waits

    service = provider(linked)
    case_id = accepted_case(linked, service)
    miss(service, case_id, "a-1")
    miss(service, case_id, "a-2")
    [raised] = breach_requests(linked, linked.police)
    samples = scrape(linked.api.app)
    assert sample(samples, "diversion_breach_requests", state="pending_oic_review") == 1
    assert sample(samples, "diversion_breach_requests", state="submitted") == 0
    assert sample(samples, "diversion_breach_requests_review_overdue") == 0
    assert sample(samples, "diversion_breach_requests_review_overdue_seconds") < 0  # its deadline is ahead
    assert 0 <= sample(samples, "diversion_breach_requests_review_oldest_age_seconds") < 600

    # Its review deadline two hours past (as if the officer had let it wait).
    with Session(linked.referral_engine) as session:
        session.execute(update(BreachRequestRow).where(BreachRequestRow.id == uuid.UUID(raised["id"]))
                        .values(review_due_at=utcnow() - timedelta(hours=2)))
        session.commit()
    samples = scrape(linked.api.app)
    assert sample(samples, "diversion_breach_requests_review_overdue") == 1
    assert 7200 <= sample(samples, "diversion_breach_requests_review_overdue_seconds") < 7800

    confirmed = linked.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=linked.police)
    assert confirmed.status_code == 200, confirmed.text
    samples = scrape(linked.api.app)
    assert sample(samples, "diversion_breach_requests", state="pending_oic_review") == 0
    assert sample(samples, "diversion_breach_requests", state="submitted") == 1
    assert sample(samples, "diversion_breach_requests_review_overdue") == 0
    assert sample(samples, "diversion_breach_requests_review_oldest_age_seconds") == 0


def test_each_webhook_providers_circuit_and_open_deliveries(linked):
    names = {state: f"Circuit {state} Service" for state in ("open", "probing", "closed")}
    ids = {state: register_provider(linked.gateway, linked.admin, name=name, webhook_url=f"http://127.0.0.1:9/{state}")["id"]
           for state, name in names.items()}
    register_provider(linked.gateway, linked.admin, name="Pull Only Service")  # no circuit: it is never called
    now = utcnow()
    with Session(linked.gateway_engine) as session:
        session.add(ProviderCircuit(provider_id=uuid.UUID(ids["open"]), consecutive_failures=7, paused_until=now + timedelta(minutes=5)))
        session.add(ProviderCircuit(provider_id=uuid.UUID(ids["probing"]), consecutive_failures=6, paused_until=now - timedelta(seconds=1)))
        session.commit()
    samples = scrape(linked.gateway.app)
    for state, expected in (("open", 2), ("probing", 1), ("closed", 0)):
        assert sample(samples, "diversion_circuit_state", service="provider_gateway", endpoint=names[state]) == expected, state
    assert sample(samples, "diversion_circuit_consecutive_failures", service="provider_gateway", endpoint=names["open"]) == 7
    assert sample(samples, "diversion_circuit_state", service="provider_gateway", endpoint="Pull Only Service") is None
    # Every provider has its open and failed states, at 0 while it has none.
    for name in (*names.values(), "Pull Only Service"):
        for state in ("pending", "awaiting_pull", "dead"):
            assert sample(samples, "diversion_deliveries", service="provider_gateway", endpoint=name, state=state) == 0


def test_a_pull_providers_referral_waits_as_awaiting_pull_until_fetched(linked):
    service = provider(linked)  # a pull-mode provider
    case_id = accepted_case(linked, service)
    assert case_id
    name = "Reading Drug Service"
    samples = scrape(linked.gateway.app)
    # Accepting it does not fetch it: the referral is still waiting for the provider to list it.
    assert sample(samples, "diversion_deliveries", service="provider_gateway", endpoint=name, state="awaiting_pull") == 1
    assert sample(samples, "diversion_deliveries_oldest_age_seconds", service="provider_gateway", endpoint=name, state="awaiting_pull") >= 0
    assert linked.gateway.get("/v1/provider/referrals", headers=service.key).status_code == 200


def events_decided(type_: str, outcome: str, reason: str = "") -> float:
    from provider_gateway.metrics import PROVIDER_EVENTS

    return PROVIDER_EVENTS.labels(type_, outcome, reason)._value.get()


def test_provider_events_are_counted_where_they_are_decided_by_type_outcome_and_reason(linked):
    before = {
        "applied": events_decided("referral.accepted", "applied"),
        "answered": events_decided("referral.accepted", "refused", "already_answered"),
        "not_booked": events_decided("appointment.attended", "refused", "appointment_not_booked"),
    }
    service = provider(linked)
    case_id = accepted_case(linked, service)  # referral.accepted: applied by referral_api
    assert service.send({"type": "referral.accepted", "data": {"case_id": case_id, "occurred_at": utcnow().isoformat()}}).status_code == 409
    refused = service.send({"type": "appointment.attended",
                            "data": {"case_id": case_id, "occurred_at": utcnow().isoformat(), "appointment_id": "never-booked"}})
    assert refused.status_code == 409, refused.text
    assert events_decided("referral.accepted", "applied") == before["applied"] + 1
    assert events_decided("referral.accepted", "refused", "already_answered") == before["answered"] + 1  # referral_api's refusal, recorded by the gateway
    assert events_decided("appointment.attended", "refused", "appointment_not_booked") == before["not_booked"] + 1  # referral_api's
    samples = scrape(linked.gateway.app)
    assert sample(samples, "diversion_provider_events_total", type="referral.accepted", outcome="applied", reason="") >= 1


def test_a_count_is_kept_only_when_its_transaction_commits(linked):
    counter = Counter("rolled_back_or_kept", "a test's own counter", registry=None)
    with Session(linked.gateway_engine) as session:
        session.execute(select(OutboxMessage.id))  # a transaction under way, as where an event is decided
        count_on_commit(session, counter)
        session.rollback()
        session.commit()
        assert counter._value.get() == 0
        count_on_commit(session, counter)
        session.commit()
    assert counter._value.get() == 1


def test_the_scheduler_reports_its_last_finished_run_and_counts_its_failures(linked, tmp_path):
    scheduler = BreachScheduler(linked.referral_engine, interval_seconds=3600)
    scheduler.start()  # registers its figures in this process
    try:
        before = time.time()
        scheduler.run_once()
        samples = scrape(linked.api.app)
        assert before <= sample(samples, "diversion_breach_checks_last_run_timestamp_seconds") <= time.time()
        assert sample(samples, "diversion_breach_checks_last_run_duration_seconds") > 0
        assert sample(samples, "diversion_breach_checks_last_run_cases") == 0
    finally:
        scheduler.stop()

    finished = referral_metrics.SCHEDULER_LAST_RUN._value.get()
    failures = referral_metrics.SCHEDULER_FAILURES._value.get()
    tableless = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # a database without its tables: every run fails
    try:
        BreachScheduler(tableless, interval_seconds=3600).run_once()
    finally:
        tableless.dispose()
    assert referral_metrics.SCHEDULER_FAILURES._value.get() == failures + 1
    assert referral_metrics.SCHEDULER_LAST_RUN._value.get() == finished  # a failed run is not a run


def test_a_database_that_cannot_be_read_says_so_and_serves_no_stale_figures(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        app = SimpleNamespace(state=SimpleNamespace(engine=engine))
        families = {family.name: family for family in DatabaseCollector(app, gateway_probes(CircuitPolicy())).collect()}
    finally:
        engine.dispose()
    assert families["diversion_database_metrics_up"].samples[0].value == 0
    assert not any(name.startswith(("diversion_outbox", "diversion_deliveries", "diversion_circuit")) for name in families)
