"""Breach requests over real HTTP: raised by the rules, reviewed by the officer, answered by the court or the YJU.

Both services run in process on their own databases, their relays linked (support/linked_services.py);
providers' events are signed with the public `standardwebhooks` package. The time-based rules are run
by the scheduler's own job function with a controlled clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import event as sqlalchemy_event, func, select
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from diversion_common.webhooks.worker import BackgroundWorker, WorkerSettings
from referral_api.breaches.scheduler import run_checks
from referral_api.case_log.tables import CaseFact
from referral_api.clients.tables import Client
from referral_api.callbacks.worker import callback_worker
from support.credentials import bearer, issue_key
from support.breach_cases import accepted_case, breach_requests, miss, provider
from support.processes import wait_for
from support.gateway_flows import register_provider
from support.provider_events import AT_BOOKING, Provider, event
from support.referrals import adult_referral, youth_referral
from support.webhook_receiver import WebhookReceiver

COURT_FIELDS = {
    "id", "status", "version", "rule", "received_at", "person", "offence", "officer", "evidence", "attendance",
    "warnings", "deadlines", "acknowledged_at", "outcome", "withdrawal", "reported_after_submission", "court", "hearing",
}
YJU_FIELDS = COURT_FIELDS - {"court", "hearing"} | {"force"}
# Once a request is closed (withdrawn, or its outcome recorded): the record of the decision, never the person.
COURT_RECORD_FIELDS = {
    "id", "status", "version", "rule", "police_reference", "court", "received_at", "acknowledged_at", "hearing", "outcome", "withdrawal",
}
YJU_RECORD_FIELDS = COURT_RECORD_FIELDS - {"court", "hearing"} | {"force"}
# What names the person (adult_referral's), the officer, or what they did: none of it in a record.
PERSONAL = ("Sam", "Synthetic", "Example Road", "RG1 2AB", "Reading", "PC Test Officer", "TV0001", "cannabis")
PERSON_FIELDS = {"given_name", "family_name", "date_of_birth", "address_line1", "address_line2", "town", "postcode"}
EVIDENCE_FIELDS = {
    "fact", "occurred_at", "reported_at", "reported_by", "appointment_id", "kind", "starts_at", "outcome",
    "reason_category", "method", "deadline", "due_at",
}


def court_key(linked, court: str = "reading-magistrates") -> dict[str, str]:
    return bearer(issue_key(linked.referral_engine, Client, Role.court, court=court))


def yju_key(linked, force: str = "thames-valley") -> dict[str, str]:
    return bearer(issue_key(linked.referral_engine, Client, Role.yju, force=force))


def submitted_request(linked, young: bool = False) -> tuple[Provider, str, dict]:
    """Two unacceptable misses (an adult's, or a young person's), and the request they raised confirmed by the officer."""
    if young:
        service = provider(linked, pathways=("youth_community_resolution",), name="Reading Young People's Service")
    else:
        service = provider(linked)
    case_id = accepted_case(linked, service, youth_referral() if young else None)
    miss(service, case_id, "a-1")
    miss(service, case_id, "a-2")
    [raised] = breach_requests(linked, linked.police)
    confirmed = linked.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=linked.police)
    assert confirmed.status_code == 200, confirmed.text
    return service, case_id, raised


def timeline_kinds(linked, case_id: str) -> list[str]:
    return [entry["kind"] for entry in linked.api.get(f"/v1/referrals/{case_id}/timeline", headers=linked.police).json()["items"]]


def facts_of_kind(linked, case_id: str, kind: str) -> int:
    with Session(linked.referral_engine) as session:
        return session.scalar(select(func.count()).select_from(CaseFact).where(CaseFact.case_id == uuid.UUID(case_id), CaseFact.kind == kind))


def test_misses_of_appointments_still_to_come_are_refused_and_raise_no_breach_request(linked):
    """Issue 23: two misses of appointments days ahead raised a request whose evidence held future dates."""
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    for number, days_ahead in (("f-1", 2), ("f-2", 3)):
        starts_at = (datetime.now(UTC) + timedelta(days=days_ahead)).isoformat()
        adult.report("appointment.booked", case_id, appointment_id=number, kind="session", starts_at=starts_at, mode="in_person")
        refused = adult.send(event("appointment.missed", case_id, appointment_id=number, reason_category="unacceptable"))
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "appointment_not_started"

    assert breach_requests(linked, linked.police) == []
    kinds = timeline_kinds(linked, case_id)
    assert "appointment.missed" not in kinds and "breach.warning_issued" not in kinds
    assert linked.case(case_id)["status"] == "in_programme"

    # An appointment in 2001 cannot be booked on a case accepted today, and an outcome cannot precede its booking.
    in_2001 = adult.send(event("appointment.booked", case_id, appointment_id="f-3", kind="session", starts_at="2001-05-01T10:00:00Z", mode="in_person"))
    assert in_2001.status_code == 409 and in_2001.json()["code"] == "appointment_before_acceptance"
    before_booking = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    adult.report("appointment.booked", case_id, appointment_id="f-4", kind="session", starts_at=AT_BOOKING, mode="in_person")
    early = adult.send(event("appointment.missed", case_id, before_booking, appointment_id="f-4", reason_category="unacceptable"))
    assert early.status_code == 409 and early.json()["code"] == "outcome_before_booking"
    assert breach_requests(linked, linked.police) == []


def test_a_hearing_dated_before_the_request_was_submitted_is_refused(linked):
    _, case_id, raised = submitted_request(linked)
    court = court_key(linked)
    url = f"/v1/breach-requests/{raised['id']}"
    assert linked.api.post(f"{url}/acknowledge", headers=court).status_code == 200
    facts = facts_of_kind(linked, case_id, "breach.hearing_scheduled")

    refused = linked.api.post(f"{url}/hearing", json={"hearing_at": "1999-05-01T10:00:00Z", "court_room": "Court 2"}, headers=court)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/hearing_at"]
    assert facts_of_kind(linked, case_id, "breach.hearing_scheduled") == facts
    assert linked.api.get(url, headers=court).json()["hearing"] is None


def test_an_adult_from_warning_to_the_courts_outcome(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    court = court_key(linked)

    first = miss(adult, case_id, "a-1")
    assert first["case_status"] == "in_programme"
    assert "breach.warning_issued" in timeline_kinds(linked, case_id)
    assert breach_requests(linked, linked.police) == []

    second = miss(adult, case_id, "a-2")
    assert second["case_status"] == "breach_requested"
    [raised] = breach_requests(linked, linked.police)
    assert (raised["status"], raised["rule"], raised["addressee"], raised["court"]) == (
        "pending_oic_review", "missed_appointments", "court", "reading-magistrates",
    )
    assert [e["appointment_id"] for e in raised["evidence"]] == ["a-1", "a-2"]
    assert [w["appointment_id"] for w in raised["warnings"]] == ["a-1"]
    assert raised["review_overdue"] is False
    # Before the officer submits it, the court does not know of it.
    assert breach_requests(linked, court) == []
    assert linked.api.get(f"/v1/breach-requests/{raised['id']}", headers=court).status_code == 404

    confirmed = linked.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=linked.police)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "submitted"
    assert linked.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=linked.police).status_code == 409

    [listed] = breach_requests(linked, court)
    assert set(listed) == COURT_FIELDS
    assert set(listed["person"]) == PERSON_FIELDS
    assert all(set(item) == EVIDENCE_FIELDS for item in listed["evidence"] + listed["attendance"])
    assert listed["person"]["family_name"] == "Example" or listed["person"]["family_name"]
    assert listed["officer"]["collar_number"] == "TV0001"

    request_url = f"/v1/breach-requests/{raised['id']}"
    assert linked.api.post(f"{request_url}/outcome", json={"outcome": "summons_issued"}, headers=court).status_code == 409  # not yet acknowledged
    assert linked.api.post(f"{request_url}/acknowledge", headers=court).json()["status"] == "acknowledged"
    hearing = linked.api.post(f"{request_url}/hearing", json={"hearing_at": "2027-01-12T10:00:00Z", "court_room": "Court 2"}, headers=court)
    assert hearing.status_code == 200, hearing.text
    assert hearing.json()["hearing"] == {"at": "2027-01-12T10:00:00Z", "court_room": "Court 2"}
    assert linked.api.post(f"{request_url}/outcome", json={"outcome": "youth_caution"}, headers=court).status_code == 422
    outcome = linked.api.post(f"{request_url}/outcome", json={"outcome": "community_sanction_imposed", "note": "Attend the service"}, headers=court)
    assert outcome.status_code == 200, outcome.text
    assert outcome.json()["outcome"]["outcome"] == "community_sanction_imposed"
    assert linked.case(case_id)["status"] == "breach_decided"
    assert timeline_kinds(linked, case_id)[-5:] == [
        "breach.raised", "breach.submitted", "breach.acknowledged", "breach.hearing_scheduled", "breach.outcome_recorded",
    ]


def test_a_court_sees_only_its_own_court_and_the_yju_never_an_adults_request(linked):
    adult, case_id, raised = submitted_request(linked)

    other_court, yju = court_key(linked, "oxford-magistrates"), yju_key(linked)
    for headers in (other_court, yju):
        assert breach_requests(linked, headers) == []
        assert linked.api.get(f"/v1/breach-requests/{raised['id']}", headers=headers).status_code == 404
        assert linked.api.post(f"/v1/breach-requests/{raised['id']}/acknowledge", headers=headers).status_code == 404
    other_force = bearer(issue_key(linked.referral_engine, Client, Role.police, force="hampshire"))
    assert linked.api.post(f"/v1/breach-requests/{raised['id']}/withdraw", json={"reason": "reasonable_excuse"}, headers=other_force).status_code == 404
    assert linked.api.get(f"/v1/referrals/{case_id}", headers=court_key(linked)).status_code == 403

    def listed(**filters) -> list[str]:
        response = linked.api.get("/v1/breach-requests", params=filters, headers=linked.police)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert listed(court="reading-magistrates") == listed(status="submitted") == [raised["id"]]
    assert listed(court="oxford-magistrates") == listed(status="pending_oic_review") == []
    assert listed(received_from="2020-01-01T00:00:00Z") == [raised["id"]] and listed(received_to="2020-01-01T00:00:00Z") == []
    assert listed(court="atlantis-magistrates") == []  # courts are reference data: a code no court has matches nothing
    assert linked.api.get("/v1/breach-requests", params={"court": "Not A Court"}, headers=linked.police).status_code == 422


def test_a_correction_withdraws_a_request_not_yet_submitted(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    miss(adult, case_id, "a-1")
    miss(adult, case_id, "a-2")
    assert linked.case(case_id)["status"] == "breach_requested"

    corrected = adult.report("appointment.attended", case_id, appointment_id="a-2")

    assert corrected["case_status"] == "in_programme"
    [request] = breach_requests(linked, linked.police)
    assert (request["status"], request["withdrawal"]["reason"]) == ("withdrawn", "basis_corrected")


def test_a_late_attendance_after_submission_is_shown_to_the_court_not_acted_on(linked):
    adult, case_id, raised = submitted_request(linked)

    adult.report("appointment.attended", case_id, appointment_id="a-2")

    seen = linked.api.get(f"/v1/breach-requests/{raised['id']}", headers=court_key(linked)).json()
    assert seen["status"] == "submitted"
    assert [(e["fact"], e["appointment_id"]) for e in seen["reported_after_submission"]] == [("appointment.attended", "a-2")]
    assert linked.case(case_id)["status"] == "breach_requested"


def test_acceptable_and_logistics_absences_never_count(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    miss(adult, case_id, "a-1", "acceptable")
    miss(adult, case_id, "a-2", "logistics")
    miss(adult, case_id, "a-3", "acceptable")
    assert linked.case(case_id)["status"] == "in_programme"
    assert "breach.warning_issued" not in timeline_kinds(linked, case_id)
    assert breach_requests(linked, linked.police) == []


def test_a_refusal_raises_a_breach_at_once_and_the_officer_may_withdraw_it(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    assert adult.report("engagement.refused", case_id)["case_status"] == "breach_requested"
    [raised] = breach_requests(linked, linked.police)
    assert raised["rule"] == "engagement_refused"

    system_reason = linked.api.post(f"/v1/breach-requests/{raised['id']}/withdraw", json={"reason": "basis_corrected"}, headers=linked.police)
    assert system_reason.status_code == 422
    withdrawn = linked.api.post(f"/v1/breach-requests/{raised['id']}/withdraw", json={"reason": "reasonable_excuse", "note": "In hospital that week"}, headers=linked.police)
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["withdrawal_note"]) == ("withdrawn", "In hospital that week")
    assert linked.case(case_id)["status"] == "engagement_refused"


def test_a_closure_by_the_provider_is_never_a_breach(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    miss(adult, case_id, "a-1")
    adult.report("case.closed_by_provider", case_id, reason="moved_away")
    assert run_checks(linked.referral_engine, datetime.now(UTC) + timedelta(weeks=30)).due == 0
    assert linked.case(case_id)["status"] == "closed_by_provider"
    assert breach_requests(linked, linked.police) == []


def test_a_young_persons_request_goes_to_the_yju(linked):
    youth = provider(linked, pathways=("youth_community_resolution",), name="Reading Young People's Service")
    case_id = accepted_case(linked, youth, youth_referral())
    miss(youth, case_id, "y-1")
    miss(youth, case_id, "y-2")
    [raised] = breach_requests(linked, linked.police)
    assert (raised["addressee"], raised["court"]) == ("yju", None)
    linked.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=linked.police)

    yju, court = yju_key(linked), court_key(linked)
    assert breach_requests(linked, court) == []
    [listed] = breach_requests(linked, yju)
    assert set(listed) == YJU_FIELDS
    url = f"/v1/breach-requests/{raised['id']}"
    assert linked.api.post(f"{url}/acknowledge", headers=yju).status_code == 200
    assert linked.api.post(f"{url}/hearing", json={"hearing_at": "2027-01-12T10:00:00Z"}, headers=yju).status_code == 403
    assert linked.api.post(f"{url}/outcome", json={"outcome": "summons_issued"}, headers=yju).status_code == 422
    decided = linked.api.post(f"{url}/outcome", json={"outcome": "referred_to_youth_offending_panel"}, headers=yju)
    assert decided.status_code == 200, decided.text
    assert linked.case(case_id)["status"] == "breach_decided"
    assert yju_key(linked, "hampshire") and breach_requests(linked, yju_key(linked, "hampshire")) == []


def test_the_scheduler_raises_an_overdue_assessment_once_after_a_reminder(linked):
    youth = provider(linked, pathways=("youth_community_resolution",), name="Reading Young People's Service")
    case_id = accepted_case(linked, youth, youth_referral())
    due = datetime.fromisoformat(linked.case(case_id)["programme"]["assessment_due"])

    assert run_checks(linked.referral_engine, due - timedelta(days=20)).due == 0  # nothing due: nothing read
    reminded = run_checks(linked.referral_engine, due - timedelta(hours=1))
    assert reminded.checked == 1
    assert facts_of_kind(linked, case_id, "deadline.reminder") == 1
    assert linked.case(case_id)["status"] == "accepted_by_provider"

    after = due + timedelta(minutes=1)
    assert run_checks(linked.referral_engine, after).checked == 1
    assert run_checks(linked.referral_engine, after).due == 0
    assert linked.case(case_id)["status"] == "breach_requested"
    [raised] = breach_requests(linked, linked.police)
    assert (raised["rule"], raised["deadlines"]["deadline"]) == ("assessment_overdue", "assessment")
    assert facts_of_kind(linked, case_id, "breach.raised") == 1


def test_an_officers_review_not_done_in_five_working_days_is_flagged_and_reminded(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    adult.report("engagement.refused", case_id)
    [raised] = breach_requests(linked, linked.police)
    review_due = datetime.fromisoformat(raised["review_due_at"])

    assert run_checks(linked.referral_engine, review_due + timedelta(seconds=1)).checked == 1
    assert facts_of_kind(linked, case_id, "deadline.reminder") == 1
    assert run_checks(linked.referral_engine, review_due + timedelta(days=3)).due == 0
    assert review_due > datetime.now(UTC) + timedelta(days=4)


@pytest.mark.parametrize("body", [{"reason": "reasonable_excuse", "extra": 1}, {"reason": "nope"}, {}])
def test_a_bad_withdrawal_is_a_problem_and_changes_nothing(linked, body):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    adult.report("engagement.refused", case_id)
    [raised] = breach_requests(linked, linked.police)
    response = linked.api.post(f"/v1/breach-requests/{raised['id']}/withdraw", json=body, headers=linked.police)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert breach_requests(linked, linked.police)[0]["status"] == "pending_oic_review"


# --- what the court's and the YJU's own systems are told -------------------------------------


@dataclass
class AddresseeSystems:
    court: WebhookReceiver  # reading-magistrates' system
    yju: WebhookReceiver  # the Thames Valley YJU's system


FAST_CALLBACKS = WorkerSettings(
    timeout_seconds=1.0, poll_seconds=0.02, retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2), allow_loopback=True,  # the fake systems listen on 127.0.0.1
)


@pytest.fixture
def addressees(linked) -> Iterator[AddresseeSystems]:
    """The court's and the YJU's systems registered by an administrator, and referral_api's delivery worker running."""
    court, yju = WebhookReceiver().start(), WebhookReceiver().start()
    admin = bearer(issue_key(linked.referral_engine, Client, Role.admin))
    for receiver, path in ((court, "/v1/admin/court-callbacks/reading-magistrates"), (yju, "/v1/admin/yju-callbacks/thames-valley")):
        registered = linked.api.put(path, json={"url": receiver.url}, headers=admin)
        assert registered.status_code == 201, registered.text
        receiver.secrets = [registered.json()["signing_secret"]]
    worker = BackgroundWorker(callback_worker(linked.referral_engine, FAST_CALLBACKS))
    worker.start()
    try:
        yield AddresseeSystems(court=court, yju=yju)
        # Nothing either system received was forged or mis-signed.
        assert all(r.verified for r in court.received + yju.received)
    finally:
        worker.stop()
        court.stop()
        yju.stop()


def told(receiver: WebhookReceiver, request_id: str) -> list[dict]:
    """The verified messages about a request, one per webhook-id, in the order of their versions."""
    seen: dict[str, dict] = {}
    for received in receiver.accepted():
        if received.verified and received.payload["data"]["breach_request_id"] == request_id:
            seen.setdefault(received.webhook_id, received.payload)
    return sorted(seen.values(), key=lambda message: message["data"]["version"])


def told_until(receiver: WebhookReceiver, request_id: str, count: int) -> list[dict]:
    assert wait_for(lambda: len(told(receiver, request_id)) >= count, timeout=10), told(receiver, request_id)
    return told(receiver, request_id)


def test_a_correction_after_submission_is_shown_to_the_court_and_its_system_is_told(linked, addressees):
    adult, case_id, raised = submitted_request(linked)
    court = court_key(linked)
    [submitted] = told_until(addressees.court, raised["id"], 1)
    assert (submitted["type"], submitted["data"]["version"]) == ("breach_request.submitted", 2)

    # The provider reports the second absence attended after all: a correction of the request's evidence.
    attended_at = datetime.fromisoformat(raised["raised_at"])  # before the submission: reported late
    adult.report("appointment.attended", case_id, occurred_at=attended_at.isoformat(), appointment_id="a-2")

    seen = linked.api.get(f"/v1/breach-requests/{raised['id']}", headers=court).json()
    [late] = seen["reported_after_submission"]
    assert (late["fact"], late["appointment_id"], late["corrects_evidence"]) == ("appointment.attended", "a-2", True)
    assert datetime.fromisoformat(late["occurred_at"]) == attended_at < datetime.fromisoformat(seen["received_at"])
    assert datetime.fromisoformat(late["reported_at"]) > datetime.fromisoformat(seen["received_at"])
    assert (seen["status"], seen["version"]) == ("submitted", 3)  # a change to what the court sees: a new version
    assert breach_requests(linked, court)[0] == seen

    _, updated = told_until(addressees.court, raised["id"], 2)
    assert updated["type"] == "breach_request.updated"
    data = updated["data"]
    assert set(data) == {"breach_request_id", "status", "version", "links", "fact_reported"}
    assert (data["status"], data["version"]) == ("submitted", 3)
    assert data["fact_reported"] == {
        "fact": "appointment.attended", "appointment_id": "a-2", "corrects_evidence": True,
        "occurred_at": late["occurred_at"], "reported_at": late["reported_at"],
    }
    assert linked.api.get(urlsplit(data["links"]["breach_request"]).path, headers=court).json() == seen
    assert told(addressees.yju, raised["id"]) == []


def test_a_page_of_several_requests_shows_each_its_own_late_facts(linked):
    """A page is read in a few statements for all its requests (breaches/service.py _views): each item
    is still what that request's own GET shows, its late facts its own and no other case's."""
    first, first_case, first_raised = submitted_request(linked)
    second_case = accepted_case(linked, first)
    miss(first, second_case, "b-1")
    miss(first, second_case, "b-2")
    [second_raised] = [r for r in breach_requests(linked, linked.police) if r["id"] != first_raised["id"]]
    assert linked.api.post(f"/v1/breach-requests/{second_raised['id']}/confirm", headers=linked.police).status_code == 200
    # Only the second case's absence is reported attended after the officer sent it.
    first.report("appointment.attended", second_case, occurred_at=second_raised["raised_at"], appointment_id="b-2")

    court = court_key(linked)
    page = breach_requests(linked, court)
    assert {item["id"] for item in page} == {first_raised["id"], second_raised["id"]}
    for item in page:
        assert item == linked.api.get(f"/v1/breach-requests/{item['id']}", headers=court).json()
    late = {item["id"]: [entry["appointment_id"] for entry in item["reported_after_submission"]] for item in page}
    assert late == {first_raised["id"]: [], second_raised["id"]: ["b-2"]}
    police_page = breach_requests(linked, linked.police)
    for item in police_page:
        assert item == linked.api.get(f"/v1/breach-requests/{item['id']}", headers=linked.police).json()
    # The reads a page costs do not grow with its items.
    assert statements_for(linked, "/v1/breach-requests?limit=1", court) == statements_for(linked, "/v1/breach-requests?limit=2", court)
    assert first_case != second_case


def statements_for(linked, path: str, headers: dict[str, str]) -> int:
    """The SELECTs a second call of ``path`` sends (a first may fill what is kept between calls)."""
    assert linked.api.get(path, headers=headers).status_code == 200
    sent: list[str] = []

    def count(_conn, _cursor, statement, _parameters, _context, _many):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and " FROM " in statement.upper():  # not the pool's pings
            sent.append(statement)

    engine = linked.api.app.state.engine  # the app's own (its lifespan made it)
    sqlalchemy_event.listen(engine, "before_cursor_execute", count)
    try:
        answer = linked.api.get(path, headers=headers)
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200 and answer.json()["items"], answer.text
    return len(sent)


def test_a_late_fact_on_a_young_persons_request_reaches_the_yju_and_nothing_after_it_is_closed(linked, addressees):
    youth, case_id, raised = submitted_request(linked, young=True)
    yju = yju_key(linked)
    told_until(addressees.yju, raised["id"], 1)

    # A new fact, not a correction: the provider reached the young person after the request went.
    youth.report("contact.attempted", case_id, method="phone", outcome="reached")

    seen = linked.api.get(f"/v1/breach-requests/{raised['id']}", headers=yju).json()
    assert [(e["fact"], e["method"], e["outcome"], e["corrects_evidence"]) for e in seen["reported_after_submission"]] == [
        ("contact.attempted", "phone", "reached", False),
    ]
    _, updated = told_until(addressees.yju, raised["id"], 2)
    assert (updated["type"], updated["data"]["version"], updated["data"]["fact_reported"]["fact"]) == ("breach_request.updated", 3, "contact.attempted")
    assert updated["data"]["fact_reported"]["corrects_evidence"] is False
    assert told(addressees.court, raised["id"]) == []


# --- minimised once closed --------------------------------------------------------------------


def assert_no_person(text: str, case_id: str | None = None) -> None:
    for personal in PERSONAL:
        assert personal not in text, personal


def test_a_request_withdrawn_with_its_referral_shows_the_court_only_the_record(linked, addressees):
    adult, case_id, raised = submitted_request(linked)
    court, url = court_key(linked), f"/v1/breach-requests/{raised['id']}"
    date_of_birth = linked.api.get(url, headers=court).json()["person"]["date_of_birth"]

    withdrawn = linked.api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "charged_instead", "note": "Sam Synthetic charged"}, headers=linked.police)
    assert withdrawn.status_code == 200, withdrawn.text

    read = linked.api.get(url, headers=court)
    record = read.json()
    assert set(record) == COURT_RECORD_FIELDS
    assert (record["status"], record["withdrawal"]["reason"], record["outcome"]) == ("withdrawn", "referral_withdrawn", None)
    assert (record["police_reference"], record["court"]) == (linked.case(case_id)["police_reference"], "reading-magistrates")
    listed = linked.api.get("/v1/breach-requests", headers=court)
    assert listed.json()["items"] == [record]
    for text in (read.text, listed.text):
        assert_no_person(text)
        assert date_of_birth not in text

    # The message that told the court of it names nobody, and its link leads to the record.
    *_, last = told_until(addressees.court, raised["id"], 2)
    assert (last["type"], last["data"]["status"]) == ("breach_request.updated", "withdrawn")
    assert set(last["data"]) == {"breach_request_id", "status", "version", "links"}
    assert last["data"]["version"] == record["version"]
    assert linked.api.get(urlsplit(last["data"]["links"]["breach_request"]).path, headers=court).json() == record
    # The referring force still sees its whole request.
    assert linked.api.get(url, headers=linked.police).json()["evidence"][0]["appointment_id"] == "a-1"


def test_once_the_court_records_its_outcome_it_keeps_only_the_record(linked):
    _, case_id, raised = submitted_request(linked)
    court, url = court_key(linked), f"/v1/breach-requests/{raised['id']}"
    assert linked.api.post(f"{url}/acknowledge", headers=court).status_code == 200
    assert linked.api.post(f"{url}/hearing", json={"hearing_at": "2027-01-12T10:00:00Z", "court_room": "Court 2"}, headers=court).status_code == 200

    decided = linked.api.post(f"{url}/outcome", json={"outcome": "summons_issued", "note": "Sam Synthetic to appear"}, headers=court)

    assert decided.status_code == 200, decided.text
    record = decided.json()
    assert set(record) == COURT_RECORD_FIELDS
    assert set(record["outcome"]) == {"outcome", "recorded_at"}  # the note is free text: it may name the person
    assert (record["status"], record["outcome"]["outcome"], record["hearing"]["at"]) == ("outcome_recorded", "summons_issued", "2027-01-12T10:00:00Z")
    assert_no_person(decided.text)
    assert linked.api.get(url, headers=court).json() == record == breach_requests(linked, court)[0]
    assert linked.api.get(url, headers=linked.police).json()["outcome"]["note"] == "Sam Synthetic to appear"


def test_once_the_yju_records_its_outcome_it_keeps_only_the_record(linked):
    _, case_id, raised = submitted_request(linked, young=True)
    yju, url = yju_key(linked), f"/v1/breach-requests/{raised['id']}"
    assert linked.api.post(f"{url}/acknowledge", headers=yju).status_code == 200

    decided = linked.api.post(f"{url}/outcome", json={"outcome": "youth_caution"}, headers=yju)

    assert decided.status_code == 200, decided.text
    record = decided.json()
    assert set(record) == YJU_RECORD_FIELDS
    assert (record["status"], record["force"], record["outcome"]["outcome"]) == ("outcome_recorded", "thames-valley", "youth_caution")
    assert_no_person(decided.text)
    assert linked.api.get(url, headers=yju).json() == record == breach_requests(linked, yju)[0]
