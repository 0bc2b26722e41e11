"""Text the database cannot hold is refused at the door, alike on SQLite and PostgreSQL.

PostgreSQL text cannot hold a NUL character and its varchar columns refuse longer
values: before the request models said so, both were 500s there (and accepted on
SQLite). Each answer must be a 422 problem naming the field, with nothing written.
"""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from sqlalchemy import func, select
from sqlmodel import Session

from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case
from referral_api.messaging.tables import OutboxMessage
from referral_api.callbacks.tables import CallbackEndpoint
from support.referrals import adult_referral, youth_referral

PROBLEM = "application/problem+json"
NUL = "\x00"


def assert_refused(response, *pointers: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert {e["pointer"] for e in problem["errors"]} == set(pointers)
    said = json.dumps([problem.get("detail"), problem["errors"]])
    assert "\\u0000" not in said  # the input is not echoed (the path, in `instance`, is the request's own)
    return problem


def count(engine, table) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(table))


def facts_of(engine, case_id: str) -> int:
    case_id = uuid.UUID(case_id)
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(CaseFact).where(CaseFact.case_id == case_id))


def test_a_nul_in_a_withdrawal_note_is_refused_and_nothing_changes(api, police, referral_engine):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    facts, messages = facts_of(referral_engine, case["id"]), count(referral_engine, OutboxMessage)

    response = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "other", "note": f"see{NUL}this"}, headers=police)

    assert_refused(response, "/note")
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == case["status"]
    assert facts_of(referral_engine, case["id"]) == facts
    assert count(referral_engine, OutboxMessage) == messages


def test_a_nul_in_a_yju_note_is_refused_and_nothing_changes(api, police, yju, referral_engine):
    case = api.post("/v1/referrals", json=youth_referral(previous_diversions=1), headers=police).json()
    facts = facts_of(referral_engine, case["id"])

    response = api.post(f"/v1/yju/referrals/{case['id']}/decision", json={"decision": "decline", "note": NUL}, headers=yju)

    assert_refused(response, "/note")
    assert api.get(f"/v1/yju/referrals/{case['id']}", headers=yju).json()["status"] == "awaiting_yju_decision"
    assert facts_of(referral_engine, case["id"]) == facts


def test_a_nul_anywhere_in_a_referral_is_refused_and_no_case_is_made(api, police, referral_engine):
    referral = adult_referral()
    referral["subject"]["given_name"] = f"Sam{NUL}"
    referral["drugs"][0]["name"] = f"{NUL}cannabis"
    referral["body_worn_video_reference"] = f"BWV{NUL}1"

    response = api.post("/v1/referrals", json=referral, headers=police)

    assert_refused(response, "/subject/given_name", "/drugs/0/name", "/body_worn_video_reference")
    assert count(referral_engine, Case) == 0


def test_a_callback_url_longer_than_its_column_is_refused(api, admin, referral_engine):
    too_long = "https://police.example/" + "a" * (501 - len("https://police.example/"))

    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": too_long}, headers=admin)

    assert_refused(response, "/url")
    assert count(referral_engine, CallbackEndpoint) == 0


def test_a_callback_url_of_exactly_its_column_is_kept(api, admin):
    longest = "https://police.example/" + "a" * (500 - len("https://police.example/"))
    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": longest}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["url"] == longest


def test_a_callback_url_that_grows_past_its_column_once_normalised_is_refused(api, admin, referral_engine):
    # 200 spaces are 200 characters sent and 600 stored (%20): the stored form is what must fit.
    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": "https://police.example/" + " " * 200 + "x"}, headers=admin)
    assert_refused(response, "/url")
    assert count(referral_engine, CallbackEndpoint) == 0


def test_a_nul_in_a_callback_url_is_refused(api, admin, referral_engine):
    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": f"https://police.example/{NUL}"}, headers=admin)
    assert_refused(response, "/url")
    assert count(referral_engine, CallbackEndpoint) == 0


def test_a_nul_or_an_overlong_delivery_id_in_the_path_is_refused(api, admin):
    for delivery_id in ("msg_%00", "msg_" + "a" * 40):
        for response in (
            api.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin),
            api.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin),
        ):
            assert_refused(response, "#path/delivery_id")


def cursor_of(at: str, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"u": at, "i": key}).encode()).decode().rstrip("=")


def test_a_cursor_carrying_a_nul_is_refused(api, admin):
    # The deliveries' keys are text: a cursor's key goes into the query as it is.
    response = api.get("/v1/admin/deliveries", params={"cursor": cursor_of("2026-01-01T00:00:00+00:00", f"msg_{NUL}")}, headers=admin)
    assert_refused(response, "#query/cursor")
    response = api.get("/v1/admin/deliveries", params={"cursor": f"a{NUL}b"}, headers=admin)
    assert_refused(response, "#query/cursor")


# Issue 23: control characters (C0 but tab and line feed in a note, DEL, C1) were stored in free text.
@pytest.mark.parametrize("control", ["\x1b[31m", "\x85", "\r", "\x07"])
def test_a_control_character_in_a_withdrawal_note_is_refused_and_nothing_changes(api, police, referral_engine, control):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    facts = facts_of(referral_engine, case["id"])

    response = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "other", "note": f"see{control}this"}, headers=police)

    assert_refused(response, "/note")
    assert facts_of(referral_engine, case["id"]) == facts


def test_a_note_may_hold_lines_and_tabs(api, police, referral_engine):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    response = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "other", "note": "first line\n\tsecond line"}, headers=police)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("control", ["\n", "\x1b", "\x9f"])
def test_a_control_character_in_a_persons_name_is_refused_and_no_case_is_made(api, police, referral_engine, control):
    body = adult_referral()
    body["subject"]["given_name"] = f"Sam{control}"
    response = api.post("/v1/referrals", json=body, headers=police)
    assert_refused(response, "/subject/given_name")
    assert count(referral_engine, Case) == 0
