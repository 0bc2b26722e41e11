"""referral_api keeps a person's details only while they serve the case (issue 16, item 8).

A police notification delivered keeps only its digest, and is not sent again once
erased; the retention job leaves a case ended longer ago than the period a
content-free record (a controlled clock: the job is given ``now``); the administrator
exports everything held about one person.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.contracts import CaseStatus
from diversion_common.database import as_utc
from diversion_common.erasure import sha256_of
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from diversion_common.webhooks.worker import BackgroundWorker, WorkerSettings
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case, CaseAccess
from referral_api.callbacks.service import notify_status_changed
from referral_api.callbacks.tables import CallbackDelivery
from referral_api.callbacks.worker import callback_worker
from referral_api.privacy.retention import run_retention
from support.processes import wait_for
from support.referrals import adult_referral, years_ago
from support.webhook_receiver import WebhookReceiver

FAST = WorkerSettings(
    timeout_seconds=0.5, poll_seconds=0.02, allow_loopback=True,
    retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2),
)
PROVIDER = str(uuid.uuid4())


def now_text(minutes: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def message(topic: str, case_id: str, payload: dict) -> dict:
    return {"id": str(uuid.uuid4()), "topic": topic, "aggregate_id": case_id, "payload": payload, "created_at": now_text()}


def provider_event(api, gateway_service, case_id: str, event_type: str, **data) -> None:
    reported = {
        "provider_id": PROVIDER, "webhook_id": f"evt_{uuid.uuid4().hex}", "received_at": now_text(),
        "event": {"type": event_type, "data": {"case_id": case_id, "occurred_at": now_text(), **data}},
    }
    response = api.post("/internal/v1/messages", json=message("provider.event_reported", case_id, reported), headers=gateway_service)
    assert response.status_code == 200, response.text


def case_with_free_text(api, police, gateway_service, **referral) -> str:
    """A case a provider took on, with notes and a cancellation reason on its log, then withdrawn with a note."""
    case_id = api.post("/v1/referrals", json=adult_referral(**referral), headers=police).json()["id"]
    routed = {"case_id": case_id, "provider_id": PROVIDER, "reason": "only provider", "occurred_at": now_text()}
    assert api.post("/internal/v1/messages", json=message("case.routed", case_id, routed), headers=gateway_service).status_code == 200
    provider_event(api, gateway_service, case_id, "referral.accepted")
    provider_event(api, gateway_service, case_id, "appointment.booked", appointment_id="a-1", kind="assessment", starts_at=now_text(60 * 24), mode="in_person")
    provider_event(api, gateway_service, case_id, "appointment.cancelled", appointment_id="a-1", cancelled_by="person", reason="in hospital for a relapse")
    provider_event(api, gateway_service, case_id, "appointment.booked", appointment_id="a-2", kind="assessment", starts_at=now_text(), mode="video")
    provider_event(api, gateway_service, case_id, "appointment.missed", appointment_id="a-2", reason_category="unacceptable", note="said they were using again")
    withdrawn = api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "charged_instead", "note": "Sam was charged with supply"}, headers=police)
    assert withdrawn.status_code == 200, withdrawn.text
    return case_id


def case_row(engine, case_id: str) -> Case:
    with Session(engine) as session:
        case = session.get(Case, uuid.UUID(case_id))
        assert case is not None
        return case


def facts_of(engine, case_id: str) -> list[CaseFact]:
    with Session(engine) as session:
        return list(session.scalars(select(CaseFact).where(CaseFact.case_id == uuid.UUID(case_id)).order_by(CaseFact.seq)))  # type: ignore[arg-type]


# --- police notifications -----------------------------------------------------------


@pytest.fixture
def police_system() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


def test_a_delivered_notification_keeps_only_its_digest_and_is_not_sent_again(api, admin, referral_engine, police_system):
    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": police_system.url}, headers=admin)
    police_system.secrets = [response.json()["signing_secret"]]
    case_id = uuid.uuid4()
    with Session(referral_engine) as session:
        notify_status_changed(session, case_id=case_id, force="thames-valley", police_reference="43/00007/26", status=CaseStatus.accepted_by_provider, version=3)
        session.commit()
    worker = BackgroundWorker(callback_worker(referral_engine, FAST))
    worker.start()
    try:
        def delivered() -> CallbackDelivery | None:
            with Session(referral_engine) as session:
                row = session.scalars(select(CallbackDelivery).where(CallbackDelivery.case_id == case_id)).one()
                return row if row.status == "delivered" else None

        assert wait_for(delivered, timeout=10)
        delivery = delivered()
        [received] = police_system.accepted()
        assert delivery.payload is None and delivery.payload_sha256 == sha256_of(received.payload)

        again = api.post(f"/v1/admin/deliveries/{delivery.id}/redeliver", headers=admin)
        assert again.status_code == 409 and again.json()["type"].endswith("/content-erased")
        assert api.get(f"/v1/admin/deliveries/{delivery.id}", headers=admin).json()["status"] == "delivered"
    finally:
        worker.stop()


# --- retention ---------------------------------------------------------------------


def test_retention_leaves_a_case_ended_longer_ago_than_the_period_a_content_free_record(api, police, gateway_service, referral_engine):
    ended = case_with_free_text(api, police, gateway_service)
    still_open = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    ended_at = as_utc(case_row(referral_engine, ended).updated_at)
    before = {f.seq: dict(f.data) for f in facts_of(referral_engine, ended)}
    assert any("relapse" in str(data) for data in before.values()) and any("supply" in str(data) for data in before.values())

    assert run_retention(referral_engine, retention_days=365, now=ended_at + timedelta(days=364)).cases == 0
    dry = run_retention(referral_engine, retention_days=365, now=ended_at + timedelta(days=366), dry_run=True)
    assert dry.case_ids == [uuid.UUID(ended)]
    assert case_row(referral_engine, ended).referral is not None  # a dry run changes nothing

    run = run_retention(referral_engine, retention_days=365, now=ended_at + timedelta(days=366))

    assert run.case_ids == [uuid.UUID(ended)]
    case = case_row(referral_engine, ended)
    assert case.referral is None and case.age_at_encounter is None and case.age_band == "25-34"
    assert as_utc(case.personal_data_erased_at) == ended_at + timedelta(days=366)
    assert (case.status, case.pathway, case.district, case.sex, case.ethnicity) == ("withdrawn", "adult_deferred_summons", "reading", "female", "W1")
    after = {f.seq: dict(f.data) for f in facts_of(referral_engine, ended)}
    assert after.keys() == before.keys()
    assert not any(word in str(after) for word in ("relapse", "using again", "supply"))
    withdrawal = next(data for data in after.values() if data.get("reason") == "charged_instead")
    assert withdrawal["note"] is None  # the code stays, the free text goes
    # The record still reads as it did, without the free text.
    assert api.get(f"/v1/referrals/{ended}", headers=police).json()["status"] == "withdrawn"
    timeline = api.get(f"/v1/referrals/{ended}/timeline", headers=police)
    assert timeline.status_code == 200 and len(timeline.json()["items"]) == len(before)
    # An open case is never touched, and a second run finds nothing.
    assert case_row(referral_engine, still_open).referral is not None
    assert run_retention(referral_engine, retention_days=365, now=ended_at + timedelta(days=500)).cases == 0


# --- subject access ------------------------------------------------------------------


def test_the_administrator_exports_every_case_held_about_one_person_and_each_export_is_recorded(api, police, admin, gateway_service, referral_engine):
    born = years_ago(30, days=3)
    person = {"subject": {"given_name": "Robin", "family_name": "Example-Synthetic", "date_of_birth": born}}
    first = case_with_free_text(api, police, gateway_service, **person)
    second = api.post("/v1/referrals", json=adult_referral(**person), headers=police).json()["id"]
    api.post("/v1/referrals", json=adult_referral(subject={"given_name": "Other", "date_of_birth": born}), headers=police)  # same birthday
    api.get(f"/v1/referrals/{second}", headers=police)

    response = api.post(
        "/v1/admin/subject-access",
        json={"given_name": "  robin ", "family_name": "EXAMPLE-SYNTHETIC", "date_of_birth": born}, headers=admin,
    )

    assert response.status_code == 200, response.text
    export = response.json()
    assert export["matched_by"] == "name_and_date_of_birth"
    assert [c["id"] for c in export["cases"]] == [first, second]
    held = export["cases"][0]
    assert held["referral"]["subject"]["family_name"] == "Example-Synthetic"
    assert [f["kind"] for f in held["facts"]][0] == "referral.received" and any(f["data"].get("note") for f in held["facts"])
    assert [m["topic"] for m in held["messages"]][0] == "case.routing_requested"
    assert held["reads"][-1]["action"] == "subject-access"
    assert [r["action"] for r in export["cases"][1]["reads"]] == ["read", "subject-access"]
    with Session(referral_engine) as session:
        recorded = session.scalars(select(CaseAccess).where(CaseAccess.action == "subject-access")).all()
    assert sorted(str(r.case_id) for r in recorded) == sorted([first, second])

    by_id = api.post("/v1/admin/subject-access", json={"case_id": second}, headers=admin).json()
    assert by_id["matched_by"] == "case_id" and [c["id"] for c in by_id["cases"]] == [second]


def test_an_erased_case_is_found_by_its_id_only_and_shows_no_one(api, police, admin, gateway_service, referral_engine):
    case_id = case_with_free_text(api, police, gateway_service)
    run_retention(referral_engine, retention_days=1, now=datetime.now(UTC) + timedelta(days=2))

    by_name = api.post(
        "/v1/admin/subject-access",
        json={"given_name": "Sam", "family_name": "Synthetic", "date_of_birth": adult_referral()["subject"]["date_of_birth"]}, headers=admin,
    )
    assert by_name.status_code == 200 and by_name.json()["cases"] == []
    [held] = api.post("/v1/admin/subject-access", json={"case_id": case_id}, headers=admin).json()["cases"]
    assert held["referral"] is None and held["personal_data_erased_at"] and held["age_band"] == "25-34"
    assert "Synthetic" not in str(held)
    # Its routing request, never sent (no gateway here), was set aside rather than sent after erasure.
    routing = next(m for m in held["messages"] if m["topic"] == "case.routing_requested")
    assert routing["sent_at"] is None and routing["refused_at"] and routing["payload"] is None
    assert all(m["payload"] is None and m["payload_sha256"] for m in held["messages"])


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"given_name": "Sam", "family_name": "Synthetic"},
        {"case_id": str(uuid.uuid4()), "given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "1990-01-01"},
        {"given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "01/01/1990"},
        {"given_name": "Sam\x00", "family_name": "Synthetic", "date_of_birth": "1990-01-01"},
        {"given_name": "S" * 101, "family_name": "Synthetic", "date_of_birth": "1990-01-01"},
        {"case_id": "not-a-case"},
        {"case_id": str(uuid.uuid4()), "extra": True},
    ],
)
def test_a_request_that_does_not_name_one_person_is_a_problem_naming_no_one(api, admin, body):
    response = api.post("/v1/admin/subject-access", json=body, headers=admin)
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"
    assert "Synthetic" not in response.text


def test_only_the_administrator_exports_and_an_unknown_case_is_a_404(api, police, admin):
    assert api.post("/v1/admin/subject-access", json={"case_id": str(uuid.uuid4())}, headers=police).status_code == 403
    missing = api.post("/v1/admin/subject-access", json={"case_id": str(uuid.uuid4())}, headers=admin)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
