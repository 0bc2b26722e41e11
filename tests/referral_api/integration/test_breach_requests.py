"""Breach requests over real HTTP: raised by the rules, reviewed by the officer, answered by the court or the YJU.

Both services run in process on their own databases, their relays linked (support/linked_services.py);
providers' events are signed with the public `standardwebhooks` package. The time-based rules are run
by the scheduler's own job function with a controlled clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.credentials import Role
from referral_api.breaches.scheduler import run_checks
from referral_api.case_log.tables import CaseFact
from referral_api.clients.tables import Client
from support.credentials import bearer, issue_key
from support.breach_cases import accepted_case, breach_requests, miss, provider
from support.provider_events import Provider, event
from support.referrals import youth_referral

COURT_FIELDS = {
    "id", "status", "version", "rule", "received_at", "person", "offence", "officer", "evidence", "attendance",
    "warnings", "deadlines", "acknowledged_at", "outcome", "withdrawal", "reported_after_submission", "court", "hearing",
}
YJU_FIELDS = COURT_FIELDS - {"court", "hearing"} | {"force"}
PERSON_FIELDS = {"given_name", "family_name", "date_of_birth", "address_line1", "address_line2", "town", "postcode"}
EVIDENCE_FIELDS = {
    "fact", "occurred_at", "reported_at", "reported_by", "appointment_id", "kind", "starts_at", "outcome",
    "reason_category", "method", "deadline", "due_at",
}


def court_key(linked, court: str = "reading-magistrates") -> dict[str, str]:
    return bearer(issue_key(linked.referral_engine, Client, Role.court, court=court))


def yju_key(linked, force: str = "thames-valley") -> dict[str, str]:
    return bearer(issue_key(linked.referral_engine, Client, Role.yju, force=force))


def submitted_request(linked) -> tuple[Provider, str, dict]:
    """An adult's two unacceptable misses, and the request they raised confirmed by the officer."""
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    miss(adult, case_id, "a-1")
    miss(adult, case_id, "a-2")
    [raised] = breach_requests(linked, linked.police)
    confirmed = linked.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=linked.police)
    assert confirmed.status_code == 200, confirmed.text
    return adult, case_id, raised


def timeline_kinds(linked, case_id: str) -> list[str]:
    return [entry["kind"] for entry in linked.api.get(f"/v1/referrals/{case_id}/timeline", headers=linked.police).json()["items"]]


def facts_of_kind(linked, case_id: str, kind: str) -> int:
    with Session(linked.referral_engine) as session:
        return session.scalar(select(func.count()).select_from(CaseFact).where(CaseFact.case_id == uuid.UUID(case_id), CaseFact.kind == kind))


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
    assert linked.api.get("/v1/breach-requests", params={"court": "atlantis"}, headers=linked.police).status_code == 422


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
