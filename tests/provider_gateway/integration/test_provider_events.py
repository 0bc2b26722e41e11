"""Providers report what happened; referral_api decides; every party sees the case come out right.

Both services run in process on their own databases, their relays linked (see
support/linked_services.py); events are signed with the public `standardwebhooks` package.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from provider_gateway.cases.tables import GatewayCase
from referral_api.case_log.tables import CaseFact
from support.gateway_flows import register_provider
from support.processes import wait_for
from support.provider_events import ADULT_PROGRAMME, AT_BOOKING, YOUTH_PROGRAMME, Provider, event, moment
from support.referrals import adult_referral, youth_referral


def provider(linked, name: str = "Reading Drug Service", pathways=("adult_deferred_summons",), district: str = "reading") -> Provider:
    record = register_provider(linked.gateway, linked.admin, name=name, pathways=pathways, district=district)
    return Provider(linked.gateway, record, linked.provider_key(record["id"]))


def routed_case(linked, referral=None) -> str:
    response = linked.api.post("/v1/referrals", json=referral or adult_referral(), headers=linked.police)
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    linked.wait_for_status(case_id, "routed")
    return case_id


def facts(linked, case_id: str) -> int:
    with Session(linked.referral_engine) as session:
        return session.scalar(select(func.count()).select_from(CaseFact).where(CaseFact.case_id == uuid.UUID(case_id)))


def gateway_case(linked, case_id: str) -> GatewayCase:
    with Session(linked.gateway_engine) as session:
        return session.get(GatewayCase, uuid.UUID(case_id))


def test_an_acceptance_is_decided_by_referral_api_and_answered_at_once(linked):
    adult = provider(linked)
    case_id = routed_case(linked)

    response = adult.send(event("referral.accepted", case_id))

    assert response.status_code == 200, response.text
    receipt = response.json()
    assert receipt["outcome"] == "applied" and receipt["duplicate"] is False
    assert receipt["case_status"] == "accepted_by_provider"
    assert response.headers["Location"] == receipt["links"]["self"]
    assert linked.case(case_id)["status"] == "accepted_by_provider"
    assert gateway_case(linked, case_id).status == "accepted"
    assert adult.gateway.get(receipt["links"]["self"], headers=adult.key).json()["outcome"] == "applied"


def test_a_whole_adult_programme_ends_completed(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    statuses = [adult.report(kind, case_id, **data)["case_status"] for kind, data in ADULT_PROGRAMME]

    assert statuses[0] == "accepted_by_provider"
    assert statuses[1] == "accepted_by_provider"  # a call that reached nobody is not yet contact
    assert statuses[2] == "in_programme"  # the person reached
    assert statuses[-1] == "completed"
    detail = linked.case(case_id)
    programme = detail["programme"]
    assert programme["done"] == ["assessment", "online_intervention_1", "online_intervention_2", "follow_up"]
    assert programme["remaining"] == []
    assert programme["attended"] == 2 and programme["contact_attempts"] == 2 and programme["contacted"] is True
    assert programme["assessment_outcome"] == "suitable_for_programme"
    assert [h["status"] for h in detail["history"]] == ["awaiting_routing", "routed", "accepted_by_provider", "in_programme", "completed"]
    assert detail["version"] == facts(linked, case_id) == 2 + len(ADULT_PROGRAMME)

    # The gateway's mirror follows, and the provider sees what it reported and the progress.
    assert wait_for(lambda: gateway_case(linked, case_id).case_status == "completed")
    view = adult.gateway.get(f"/v1/provider/referrals/{case_id}", headers=adult.key).json()
    assert view["case_status"] == "completed" and view["status"] == "ended"
    assert [r["event_type"] for r in view["reported"]] == [kind for kind, _ in ADULT_PROGRAMME]
    assert view["programme"]["remaining"] == []


def test_the_gateways_mirror_takes_each_answer_while_the_case_is_open(linked):
    # Decided in the answer's own transaction: the mirror holds it when the provider is answered.
    adult = provider(linked)
    case_id = routed_case(linked)
    for kind, data in ADULT_PROGRAMME[:3]:
        adult.report(kind, case_id, **data)
    detail = linked.case(case_id)
    assert detail["status"] == "in_programme"

    mirrored = gateway_case(linked, case_id)
    assert (mirrored.case_status, mirrored.case_version) == ("in_programme", detail["version"])
    view = adult.gateway.get(f"/v1/provider/referrals/{case_id}", headers=adult.key).json()
    assert view["case_status"] == "in_programme"
    assert view["programme"]["contact_attempts"] == detail["programme"]["contact_attempts"] == 2
    assert view["programme"]["contacted"] is True


def test_a_whole_youth_programme_ends_completed(linked):
    youth = provider(linked, "Young People's Service", pathways=("youth_community_resolution",))
    case_id = routed_case(linked, youth_referral())
    for kind, data in YOUTH_PROGRAMME[:-1]:
        youth.report(kind, case_id, **data)
    before = linked.case(case_id)["programme"]
    assert before["remaining"] == [] and before["attended"] == 7
    assert before["assessment_due"] is not None and before["completion_due"] is not None
    assert youth.report("course.completed", case_id)["case_status"] == "completed"


def test_a_missed_appointment_corrected_to_attended_counts_once_as_attended(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    adult.report("appointment.booked", case_id, appointment_id="c-1", kind="assessment", starts_at=AT_BOOKING, mode="phone")
    adult.report("appointment.missed", case_id, appointment_id="c-1", reason_category="unacceptable", note="no reply (synthetic)")
    assert linked.case(case_id)["programme"]["missed"]["unacceptable"] == 1
    adult.report("appointment.attended", case_id, appointment_id="c-1")

    programme = linked.case(case_id)["programme"]
    assert programme["attended"] == 1 and programme["missed"]["unacceptable"] == 0
    timeline = linked.api.get(f"/v1/referrals/{case_id}/timeline", headers=linked.police).json()["items"]
    outcomes = [(item["kind"], item["superseded"]) for item in timeline if item["kind"] in ("appointment.missed", "appointment.attended")]
    assert outcomes == [("appointment.missed", True), ("appointment.attended", False)]
    assert "synthetic" not in str(timeline)  # a provider's note never reaches the police


def test_late_and_out_of_order_events_fold_to_the_same_answer(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    accepted_at, booked_at, missed_at = moment(), moment(), moment()
    # The booking arrives before the acceptance it followed; the miss before the booking.
    adult.report("appointment.booked", case_id, booked_at, appointment_id="o-1", kind="assessment", starts_at=AT_BOOKING, mode="video")
    adult.report("referral.accepted", case_id, accepted_at)
    adult.report("appointment.missed", case_id, missed_at, appointment_id="o-1", reason_category="acceptable")
    late = adult.report("contact.attempted", case_id, accepted_at, method="phone", outcome="reached")

    assert late["case_status"] == "in_programme"
    detail = linked.case(case_id)
    assert detail["programme"]["missed"] == {"acceptable": 1, "unacceptable": 0, "logistics": 0}
    timeline = linked.api.get(f"/v1/referrals/{case_id}/timeline", headers=linked.police).json()["items"]
    assert [i["kind"] for i in timeline][-4:] == ["referral.accepted", "contact.attempted", "appointment.booked", "appointment.missed"]
    assert [i["seq"] for i in timeline][-4:] == [4, 6, 3, 5]  # the order it happened in, not the order we learnt it


def test_a_repeated_webhook_id_gets_the_first_answer_and_changes_nothing(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    body = event("referral.accepted", case_id)
    first = adult.send(body, "evt_repeat_1").json()
    version = linked.case(case_id)["version"]
    again = adult.send(body, "evt_repeat_1")

    assert again.status_code == 200
    assert again.json() == {**first, "duplicate": True}
    assert linked.case(case_id)["version"] == version == facts(linked, case_id)


@pytest.mark.parametrize(
    ("kind", "data", "code"),
    [
        ("appointment.attended", {"appointment_id": "never-booked"}, "appointment_not_booked"),
        ("appointment.missed", {"appointment_id": "never-booked", "reason_category": "unacceptable"}, "appointment_not_booked"),
        ("intervention.completed", {"intervention": "session", "session_number": 2}, "intervention_not_in_pathway"),
    ],
)
def test_an_event_the_rules_refuse_is_a_409_with_its_reason_and_changes_nothing(linked, kind, data, code):
    adult = provider(linked)
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    version = linked.case(case_id)["version"]

    response = adult.send(event(kind, case_id, **data), "evt_refused")
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert linked.case(case_id)["version"] == version
    assert adult.send(event(kind, case_id, **data), "evt_refused").json()["code"] == code  # the first answer again
    refused = linked.gateway.get("/v1/admin/provider-events", params={"outcome": "refused"}, headers=linked.admin).json()["items"]
    assert [(r["webhook_id"], r["refusal"]["code"]) for r in refused] == [("evt_refused", code)]


def test_a_miss_sent_before_its_booking_is_applied_when_sent_again_after_it(linked):
    """docs/ARCHITECTURE.md: a miss reported before its booking folds like any other order. Refused
    while the booking is unknown, it is not refused for good: its retry, under the same webhook-id, applies."""
    adult = provider(linked)
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    booked_at, missed_at = moment(), moment()
    miss = event("appointment.missed", case_id, missed_at, appointment_id="r-1", reason_category="acceptable")

    early = adult.send(miss, "evt_miss_r1")
    assert early.status_code == 409, early.text
    assert early.json()["code"] == "appointment_not_booked" and early.json()["retryable"] is True
    receipt = adult.gateway.get("/v1/provider/events/evt_miss_r1", headers=adult.key).json()
    assert receipt["outcome"] == "refused" and receipt["refusal"]["retryable"] is True

    adult.report("appointment.booked", case_id, booked_at, appointment_id="r-1", kind="assessment", starts_at=AT_BOOKING, mode="phone")
    retried = adult.send(miss, "evt_miss_r1")
    assert retried.status_code == 200, retried.text
    assert retried.json()["outcome"] == "applied" and retried.json()["refusal"] is None
    assert linked.case(case_id)["programme"]["missed"]["acceptable"] == 1
    assert adult.gateway.get("/v1/provider/events/evt_miss_r1", headers=adult.key).json()["outcome"] == "applied"

    # Applied once: a further repeat is a duplicate and changes nothing.
    version = linked.case(case_id)["version"]
    again = adult.send(miss, "evt_miss_r1")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert linked.case(case_id)["version"] == version == facts(linked, case_id)


def test_a_refusal_for_good_stays_the_answer_to_its_webhook_id(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    wrong_pathway = event("intervention.completed", case_id, intervention="session", session_number=2)
    first = adult.send(wrong_pathway, "evt_final")
    assert first.status_code == 409 and first.json()["retryable"] is False
    adult.report("appointment.booked", case_id, appointment_id="r-2", kind="assessment", starts_at=AT_BOOKING, mode="phone")
    assert adult.send(wrong_pathway, "evt_final").json() == first.json()


def test_another_providers_case_does_not_exist_and_an_ended_one_is_a_conflict(linked):
    mine = provider(linked)
    other = provider(linked, "Oxford Service", district="oxford")
    case_id = routed_case(linked)
    assert other.send(event("referral.accepted", case_id)).status_code == 404
    assert other.send(event("referral.accepted", str(uuid.uuid4()))).status_code == 404

    linked.api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "charged_instead"}, headers=linked.police)
    assert wait_for(lambda: gateway_case(linked, case_id).status == "withdrawn")
    response = mine.send(event("referral.accepted", case_id))
    assert response.status_code == 409 and response.json()["code"] == "case_ended"


def test_a_rejection_reaches_the_police_and_the_case_goes_to_the_next_provider(linked):
    first = provider(linked, "A First Service")
    second = provider(linked, "B Second Service")
    case_id = routed_case(linked)
    assert gateway_case(linked, case_id).provider_id == uuid.UUID(first.id)

    answer = first.report("referral.rejected", case_id, reason="no_capacity", note="full until spring")
    assert answer["case_status"] == "routed"
    assert wait_for(lambda: gateway_case(linked, case_id).provider_id == uuid.UUID(second.id))
    assert wait_for(lambda: linked.case(case_id)["version"] == 4 and linked.gateway_has_answers_for(case_id))
    assert second.report("referral.accepted", case_id)["case_status"] == "accepted_by_provider"
    # The rejected provider's later word no longer counts.
    assert first.send(event("contact.attempted", case_id, method="phone", outcome="reached")).json()["code"] == "not_with_provider"

    timeline = linked.api.get(f"/v1/referrals/{case_id}/timeline", headers=linked.police).json()["items"]
    rejection = next(item for item in timeline if item["kind"] == "referral.rejected")
    assert "no capacity" in rejection["description"].lower() and "spring" not in rejection["description"]


@pytest.mark.parametrize(
    "data",
    [
        {"intervention": "session"},  # a session needs its number
        {"intervention": "online_intervention_1", "session_number": 1},
        {"intervention": "session", "session_number": 7},
        {"intervention": "homework"},
    ],
)
def test_a_malformed_event_is_a_422_and_changes_nothing(linked, data):
    adult = provider(linked)
    case_id = routed_case(linked)
    version = linked.case(case_id)["version"]
    response = adult.send(event("intervention.completed", case_id, **data))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert linked.case(case_id)["version"] == version


def test_an_event_that_has_not_happened_yet_is_refused(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    response = adult.send(event("referral.accepted", case_id, "2999-01-01T00:00:00Z"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/data/occurred_at"


def test_when_every_provider_rejects_the_case_is_unroutable(linked):
    only = provider(linked)
    case_id = routed_case(linked)
    only.report("referral.rejected", case_id, reason="out_of_area")
    linked.wait_for_status(case_id, "unroutable")
    unroutable = linked.gateway.get("/v1/admin/cases", params={"status": "unroutable"}, headers=linked.admin).json()["items"]
    assert [c["case_id"] for c in unroutable] == [case_id]


def test_after_a_rotation_both_secrets_verify_until_the_overlap_ends(linked):
    adult = provider(linked)
    old_secret = adult.secret
    rotated = linked.gateway.post(f"/v1/admin/providers/{adult.id}/secrets", json={"overlap_hours": 1}, headers=linked.admin)
    assert rotated.status_code == 201
    new_secret = rotated.json()["signing_secret"]
    for secret in (old_secret, new_secret):
        adult.secret = secret
        assert adult.send(event("referral.accepted", routed_case(linked))).status_code == 200

    linked.gateway.post(f"/v1/admin/providers/{adult.id}/secrets", json={"overlap_hours": 0}, headers=linked.admin)
    adult.secret = new_secret
    assert adult.send(event("referral.accepted", routed_case(linked))).status_code == 401


def test_a_repeated_event_id_tells_nothing_about_another_case(linked):
    mine = provider(linked, "Mine")
    theirs = provider(linked, "Theirs", district="oxford")
    my_case = routed_case(linked)
    their_case = routed_case(linked, adult_referral(encounter={"district": "oxford"}))
    mine.send(event("referral.accepted", my_case), "evt_probe")

    # The same webhook-id, now naming another provider's case: the first answer, about the first case.
    answer = mine.send(event("referral.rejected", their_case, reason="other"), "evt_probe").json()
    assert answer["duplicate"] is True and answer["case_id"] == my_case
    assert theirs.gateway.get(f"/v1/provider/referrals/{their_case}", headers=theirs.key).json()["status"] == "routed"


def test_a_message_referral_api_refuses_is_kept_with_its_reason_for_the_administrator(linked):
    from diversion_common.credentials import Role
    from provider_gateway.clients.tables import Client as GatewayClient
    from support.credentials import bearer, issue_key
    from support.gateway_flows import route_a_case

    provider(linked)
    # A case referral_api never heard of: the gateway routes it and tells referral_api, which refuses.
    unknown = route_a_case(linked.gateway, bearer(issue_key(linked.gateway_engine, GatewayClient, Role.service)))

    def refused():
        listed = linked.gateway.get("/v1/admin/messages", params={"state": "refused"}, headers=linked.admin).json()["items"]
        return [m for m in listed if m["aggregate_id"] == unknown]

    assert wait_for(refused)
    [message] = refused()
    assert message["topic"] == "case.routed" and message["last_error"] == "no such case"
    assert "payload" not in message


def test_a_rejection_after_taking_the_case_on_is_refused_and_the_case_stays(linked):
    adult = provider(linked, "A First Service")
    provider(linked, "B Second Service")
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    adult.report("contact.attempted", case_id, method="phone", outcome="reached")
    # The gateway forwards it (whether a provider may still answer is referral_api's rule): referral_api refuses.
    response = adult.send(event("referral.rejected", case_id, reason="other"))
    assert response.status_code == 409 and response.json()["code"] == "already_answered"
    assert linked.case(case_id)["status"] == "in_programme"
    assert gateway_case(linked, case_id).provider_id == uuid.UUID(adult.id)


def test_an_event_dated_before_the_referral_reached_the_provider_is_refused(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    response = adult.send(event("contact.attempted", case_id, "2001-01-01T09:00:00Z", method="phone", outcome="reached"))
    assert response.status_code == 409 and response.json()["code"] == "before_referral"
    assert linked.case(case_id)["programme"]["completion_due"] is None


def test_a_refusal_is_kept_so_a_repeat_gets_the_same_answer(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    first = adult.send(event("referral.accepted", case_id), "evt_twice")
    assert first.status_code == 409 and first.json()["code"] == "already_answered"
    assert adult.send(event("referral.accepted", case_id), "evt_twice").json()["code"] == "already_answered"
    assert adult.gateway.get("/v1/provider/events/evt_twice", headers=adult.key).json()["refusal"]["code"] == "already_answered"


def test_a_webhook_id_that_cannot_name_a_receipt_is_refused(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    assert adult.send(event("referral.accepted", case_id), "evt/1").status_code == 401


def test_a_providers_free_text_never_reaches_the_police_history(linked):
    adult = provider(linked)
    case_id = routed_case(linked)
    adult.report("referral.accepted", case_id)
    adult.report("appointment.booked", case_id, appointment_id="h-1", kind="assessment", starts_at=moment(60), mode="phone")
    adult.report("appointment.cancelled", case_id, appointment_id="h-1", cancelled_by="person", reason="in hospital (synthetic)")
    detail = linked.case(case_id)
    assert "synthetic" not in str(detail["history"]) and "hospital" not in str(detail)
