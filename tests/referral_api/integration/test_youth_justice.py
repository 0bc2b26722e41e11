"""The Youth Justice Unit sees young people's cases sent to it, and decides them."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

import pytest
from sqlmodel import Session as DbSession

from diversion_common.clients import ClientError, create_client
from diversion_common.credentials import Role
from referral_api.clients.tables import Client
from referral_api.messaging.tables import OutboxMessage
from support.referrals import adult_referral, youth_referral


YJU_CASE_FIELDS = {
    "id", "police_reference", "force", "district", "pathway", "status", "version", "created_at", "updated_at", "history",
    "previous_diversions", "encounter_at", "age_at_encounter", "drugs", "checks", "young_person", "guardian",
}
# Once the unit's part has ended (it declined, or the case was withdrawn or otherwise ended): the record of the decision.
YJU_CASE_RECORD_FIELDS = {"id", "police_reference", "force", "pathway", "status", "version", "created_at", "updated_at", "decision", "decided_at", "reason", "history"}
# What names the young person or the guardian (youth_referral's), or what they did.
PERSONAL = ("Sam", "Synthetic", "Pat", "07700 900002", "Example Road", "RG1 2AB", "Reading", "cannabis", "parent")


def sent_to_yju(api, police) -> dict:
    return api.post("/v1/referrals", json=youth_referral(previous_diversions=1), headers=police).json()


def test_the_yju_lists_and_reads_cases_waiting_for_it(api, police, yju):
    case = sent_to_yju(api, police)
    api.post("/v1/referrals", json=youth_referral(), headers=police)  # no previous diversion: not the YJU's
    listed = api.get("/v1/yju/referrals", params={"status": "awaiting_yju_decision"}, headers=yju).json()
    assert [c["id"] for c in listed["items"]] == [case["id"]]
    detail = api.get(f"/v1/yju/referrals/{case['id']}", headers=yju).json()
    assert detail["previous_diversions"] == 1
    assert detail["guardian"]["relationship"] == "parent"


def test_the_yju_sees_nothing_about_adults(api, police, yju):
    adult = api.post("/v1/referrals", json=adult_referral(previous_diversions=3), headers=police).json()
    assert api.get(f"/v1/yju/referrals/{adult['id']}", headers=yju).status_code == 404
    assert api.post(f"/v1/yju/referrals/{adult['id']}/decision", json={"decision": "divert"}, headers=yju).status_code == 404
    assert api.get("/v1/yju/referrals", headers=yju).json()["items"] == []


def test_a_divert_decision_sends_the_case_for_routing(api, police, yju, referral_engine):
    case = sent_to_yju(api, police)
    response = api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "divert"}, headers=yju)
    assert response.status_code == 200
    assert response.json()["status"] == "awaiting_routing"
    with Session(referral_engine) as session:
        assert [m.topic for m in session.scalars(select(OutboxMessage))] == ["case.routing_requested"]
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == "awaiting_routing"


def test_a_decline_ends_the_diversion(api, police, yju, referral_engine):
    case = sent_to_yju(api, police)
    response = api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "decline", "note": "traditional pathway"}, headers=yju)
    assert (response.json()["status"], response.json()["decision"]) == ("declined_by_yju", "decline")
    # The note stays on the force's history; the unit's record of its decision holds no free text.
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["history"][-1]["reason"] == "traditional pathway"
    with Session(referral_engine) as session:
        assert list(session.scalars(select(OutboxMessage))) == []


def test_a_second_decision_is_a_conflict(api, police, yju):
    case = sent_to_yju(api, police)
    api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "decline"}, headers=yju)
    again = api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "divert"}, headers=yju)
    assert again.status_code == 409


def test_only_the_yju_may_decide(api, police, issue):
    case = sent_to_yju(api, police)
    for role in (Role.police, Role.court, Role.admin):
        headers = issue(role, force="thames-valley") if role is Role.police else issue(role)
        response = api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "divert"}, headers=headers)
        assert response.status_code == 403


def test_a_yju_sees_only_the_young_people_of_its_own_forces_area(api, police, other_police, yju, issue):
    ours = sent_to_yju(api, police)
    theirs = api.post(  # Hampshire's young person
        "/v1/referrals", json=youth_referral(previous_diversions=1, encounter={"district": "southampton"}), headers=other_police
    ).json()
    assert [c["id"] for c in api.get("/v1/yju/referrals", headers=yju).json()["items"]] == [ours["id"]]
    # Another area's case does not exist for this unit, exactly as an unknown one.
    assert api.get(f"/v1/yju/referrals/{theirs['id']}", headers=yju).status_code == 404
    assert api.post(f"/v1/yju/referrals/{theirs['id']}/decision", json={"decision": "divert"}, headers=yju).status_code == 404
    hampshire_yju = issue(Role.yju, force="hampshire")
    assert [c["id"] for c in api.get("/v1/yju/referrals", headers=hampshire_yju).json()["items"]] == [theirs["id"]]
    assert api.get(f"/v1/yju/referrals/{theirs['id']}", headers=hampshire_yju).json()["status"] == "awaiting_yju_decision"


def test_the_yju_view_is_only_what_the_unit_needs_to_decide(api, police, yju):
    referral = youth_referral(previous_diversions=2, body_worn_video_reference="BWV-TV-YOUTH-9", subject={"ethnicity": "B2"})
    case = api.post("/v1/referrals", json=referral, headers=police).json()
    response = api.get(f"/v1/yju/referrals/{case['id']}", headers=yju)
    detail = response.json()
    assert detail["young_person"] == {
        "given_name": "Sam", "family_name": "Synthetic", "date_of_birth": referral["subject"]["date_of_birth"],
        "address": {"line1": "1 Example Road", "line2": None, "town": "Reading", "postcode": "RG1 2AB"},
    }
    assert detail["guardian"]["name"] == "Pat Synthetic"
    assert detail["drugs"] == [{"name": "cannabis", "class": "B"}]
    assert detail["previous_diversions"] == 2 and detail["checks"]["guardian_contacted"] is True
    # No officer, no body-worn video reference, no ethnicity, no contact details of the young person.
    for absent in ('"referral":', "officer", "PC Test Officer", "TV0001", "body_worn_video", "BWV-TV-YOUTH-9", "ethnicity", "B2",
                   "sam.synthetic@person.example", "07700 900001", "contact_preferences"):
        assert absent not in response.text
    assert set(detail) == YJU_CASE_FIELDS
    diverted = api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "divert"}, headers=yju)
    assert set(diverted.json()) == set(detail) and "BWV-TV-YOUTH-9" not in diverted.text  # the case goes on: the unit may be asked again


def test_a_yju_client_belongs_to_a_force(referral_engine):
    with DbSession(referral_engine) as session:
        with pytest.raises(ClientError, match="yju client needs --force"):
            create_client(session, Client, name="no area", role=Role.yju)
        with pytest.raises(ClientError, match="belong to a force"):
            create_client(session, Client, name="court", role=Role.court, force="hampshire")
        assert create_client(session, Client, name="Hampshire YJU", role=Role.yju, force="hampshire").api_key


def test_a_yju_key_from_before_units_had_an_area_sees_nothing(api, police, referral_engine):
    case = sent_to_yju(api, police)
    with DbSession(referral_engine) as session:  # as a key issued before this change: no force
        issued = create_client(session, Client, name="old unit key", role=Role.yju, force="thames-valley")
        session.get(Client, issued.client_id).force = None
        session.commit()
    legacy = {"Authorization": f"Bearer {issued.api_key}"}
    assert api.get("/v1/yju/referrals", headers=legacy).json()["items"] == []
    assert api.get(f"/v1/yju/referrals/{case['id']}", headers=legacy).status_code == 404


def test_once_the_yju_declines_it_sees_only_the_record_of_its_decision(api, police, yju):
    case = sent_to_yju(api, police)
    url = f"/v1/yju/referrals/{case['id']}"
    date_of_birth = api.get(url, headers=yju).json()["young_person"]["date_of_birth"]

    decided = api.post(f"{url}/decision", json={"decision": "decline", "note": "Pat Synthetic asked for the traditional pathway"}, headers=yju)

    record = decided.json()
    assert set(record) == YJU_CASE_RECORD_FIELDS
    assert (record["status"], record["decision"], record["reason"]) == ("declined_by_yju", "decline", None)
    assert record["decided_at"] == record["history"][-1]["at"]
    assert all(set(entry) == {"status", "event", "at"} for entry in record["history"])  # notes are free text: left out
    read = api.get(url, headers=yju)
    assert read.json() == record
    listed = api.get("/v1/yju/referrals", headers=yju)
    for text in (decided.text, read.text, listed.text):
        assert date_of_birth not in text
        for personal in PERSONAL:
            assert personal not in text, personal


def test_a_case_withdrawn_before_the_yju_decided_shows_it_only_the_record(api, police, yju):
    case = sent_to_yju(api, police)
    withdrawn = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "charged_instead", "note": "Sam Synthetic charged"}, headers=police)
    assert withdrawn.status_code == 200, withdrawn.text

    read = api.get(f"/v1/yju/referrals/{case['id']}", headers=yju)

    record = read.json()
    assert set(record) == YJU_CASE_RECORD_FIELDS
    assert (record["status"], record["decision"], record["decided_at"], record["reason"]) == ("withdrawn", None, None, "charged_instead")
    for personal in PERSONAL:
        assert personal not in read.text, personal
    assert api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "divert"}, headers=yju).status_code == 409
