"""The Youth Justice Unit sees young people's cases sent to it, and decides them."""

from __future__ import annotations

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.credentials import Role
from referral_api.messaging.tables import OutboxMessage
from support.referrals import adult_referral, youth_referral


def sent_to_yju(api, police) -> dict:
    return api.post("/v1/referrals", json=youth_referral(previous_diversions=1), headers=police).json()


def test_the_yju_lists_and_reads_cases_waiting_for_it(api, police, yju):
    case = sent_to_yju(api, police)
    api.post("/v1/referrals", json=youth_referral(), headers=police)  # no previous diversion: not the YJU's
    listed = api.get("/v1/yju/referrals", params={"status": "awaiting_yju_decision"}, headers=yju).json()
    assert [c["id"] for c in listed["items"]] == [case["id"]]
    detail = api.get(f"/v1/yju/referrals/{case['id']}", headers=yju).json()
    assert detail["previous_diversions"] == 1
    assert detail["referral"]["guardian"]["relationship"] == "parent"


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
    assert response.json()["status"] == "declined_by_yju"
    assert response.json()["history"][-1]["reason"] == "traditional pathway"
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
