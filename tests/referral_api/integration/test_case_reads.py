"""Reading, listing and withdrawing a force's own cases; every read is recorded."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlmodel import Session

from referral_api.cases.tables import CaseAccess
from referral_api.messaging.tables import OutboxMessage
from support.referrals import adult_referral, youth_referral


def refer(api, headers, **overrides) -> dict:
    response = api.post("/v1/referrals", json=adult_referral(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_a_case_reads_back_with_its_history(api, police):
    case = refer(api, police)
    detail = api.get(f"/v1/referrals/{case['id']}", headers=police).json()
    assert detail["status"] == "awaiting_routing"
    assert [(h["event"], h["status"]) for h in detail["history"]] == [("referral.received", "awaiting_routing")]


def test_another_forces_case_is_not_found(api, police, other_police):
    case = refer(api, police)
    read = api.get(f"/v1/referrals/{case['id']}", headers=other_police)
    withdraw = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "other"}, headers=other_police)
    for response in (read, withdraw):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == "awaiting_routing"
    assert api.get("/v1/referrals", headers=other_police).json()["items"] == []


def test_an_unknown_case_is_not_found(api, police):
    assert api.get(f"/v1/referrals/{uuid.uuid4()}", headers=police).status_code == 404


def test_every_read_is_attributed_to_the_client(api, police, referral_engine):
    case = refer(api, police)
    api.get(f"/v1/referrals/{case['id']}", headers=police)
    police_system_id = str(uuid.uuid4())
    listed = api.get("/v1/referrals", headers={**police, "X-Request-ID": police_system_id})
    with Session(referral_engine) as session:
        accesses = list(session.scalars(select(CaseAccess).order_by(CaseAccess.id)))
    assert [(a.action, str(a.case_id)) for a in accesses] == [("read", case["id"]), ("list", case["id"])]
    assert len({a.client_id for a in accesses}) == 1
    # The call's X-Request-ID: the police system's own, as it sent a UUID.
    assert accesses[1].request_id == listed.headers["X-Request-ID"] == police_system_id


def test_listing_filters_by_status(api, police):
    waiting = refer(api, police)
    api.post("/v1/referrals", json=youth_referral(previous_diversions=2), headers=police)
    items = api.get("/v1/referrals", params={"status": "awaiting_routing"}, headers=police).json()["items"]
    assert [i["id"] for i in items] == [waiting["id"]]


def test_listing_pages_through_every_case_once(api, police):
    created = [refer(api, police)["id"] for _ in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/referrals", params=params, headers=police).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))


def test_listing_since_a_time_returns_only_later_changes(api, police):
    refer(api, police)
    time.sleep(0.01)
    since = datetime.now(UTC)
    later = refer(api, police)
    items = api.get("/v1/referrals", params={"updated_since": since.isoformat()}, headers=police).json()["items"]
    assert [i["id"] for i in items] == [later["id"]]


def test_a_withdrawn_case_shows_up_again_as_changed(api, police):
    first = refer(api, police)
    time.sleep(0.01)
    since = datetime.now(UTC)
    api.post(f"/v1/referrals/{first['id']}/withdraw", json={"reason": "submitted_in_error"}, headers=police)
    items = api.get("/v1/referrals", params={"updated_since": since.isoformat()}, headers=police).json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(first["id"], "withdrawn")]


def test_cursor_0_is_the_first_page(api, police):
    """Issue 23: `cursor=0` was a 422; the document says it is the first page, as an omitted cursor."""
    for _ in range(3):
        refer(api, police)
    first = api.get("/v1/referrals", params={"limit": 2}, headers=police).json()
    zero = api.get("/v1/referrals", params={"limit": 2, "cursor": "0"}, headers=police)
    assert zero.status_code == 200, zero.text
    assert zero.json()["items"] == first["items"] and zero.json()["next_cursor"] == first["next_cursor"]
    described = api.get("/openapi.json").json()["paths"]["/v1/referrals"]["get"]["parameters"]
    [cursor] = [p for p in described if p["name"] == "cursor"]
    assert "`0`" in cursor["description"]


def test_a_bad_cursor_or_limit_is_a_problem(api, police):
    for params in ({"cursor": "not-a-cursor"}, {"limit": 0}, {"limit": 1000}, {"updated_since": "yesterday"},
                   {"updated_since": (datetime.now() - timedelta(days=1)).isoformat()}, {"status": "lost"}):
        response = api.get("/v1/referrals", params=params, headers=police)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"


def test_withdrawing_records_the_reason_and_tells_the_gateway(api, police, referral_engine):
    case = refer(api, police)
    response = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "charged_instead", "note": "charged with supply"}, headers=police)
    assert response.status_code == 200
    detail = response.json()
    assert detail["status"] == "withdrawn"
    assert detail["history"][-1]["reason"] == "charged_instead: charged with supply"
    with Session(referral_engine) as session:
        topics = [m.topic for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))]
    # The gateway's mirror learns of it (and cancels the routing) from the status change.
    assert topics == ["case.routing_requested", "case.status_changed"]


def test_withdrawing_twice_is_a_conflict_and_changes_nothing(api, police):
    case = refer(api, police)
    api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "duplicate"}, headers=police)
    again = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "other"}, headers=police)
    assert again.status_code == 409
    assert again.json()["type"].endswith("case-status-conflict")
    assert len(api.get(f"/v1/referrals/{case['id']}", headers=police).json()["history"]) == 2


def test_a_withdrawal_needs_a_known_reason(api, police):
    case = refer(api, police)
    response = api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "bored"}, headers=police)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/reason"
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == "awaiting_routing"
