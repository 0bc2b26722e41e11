"""Messages from the gateway move cases; a repeat changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from referral_api.case_log.tables import CaseFact
from referral_api.messaging.tables import InboxMessage, OutboxMessage
from support.referrals import adult_referral


_TIMED = ("case.routed", "case.unroutable")


def envelope(topic: str, case_id: str, **payload) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "aggregate_id": case_id,
        "payload": {"case_id": case_id, **({"occurred_at": datetime.now(UTC).isoformat()} if topic in _TIMED else {}), **payload},
        "created_at": datetime.now(UTC).isoformat(),
    }


def test_a_routed_message_moves_the_case_once(api, police, gateway_service, referral_engine):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    message = envelope("case.routed", case["id"], provider_id=str(uuid.uuid4()), reason="only provider")

    first = api.post("/internal/v1/messages", json=message, headers=gateway_service)
    repeat = api.post("/internal/v1/messages", json=message, headers=gateway_service)

    assert first.json()["duplicate"] is False
    assert repeat.json()["duplicate"] is True
    detail = api.get(f"/v1/referrals/{case['id']}", headers=police).json()
    assert detail["status"] == "routed"
    assert [h["event"] for h in detail["history"]] == ["referral.received", "case.routed"]


def test_the_gateways_message_is_answered_with_the_case_and_not_announced_back(api, police, gateway_service, referral_engine):
    """A change of status the gateway caused reaches its mirror in referral_api's answer (also to a
    repeat, whose first answer may have been lost); no case.status_changed goes back for it."""
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    message = envelope("case.routed", case["id"], provider_id=str(uuid.uuid4()), reason="only provider")

    first = api.post("/internal/v1/messages", json=message, headers=gateway_service).json()
    repeat = api.post("/internal/v1/messages", json=message, headers=gateway_service).json()

    for answer in (first, repeat):
        assert (answer["result"]["case_id"], answer["result"]["status"], answer["result"]["version"]) == (case["id"], "routed", 2)
    with Session(referral_engine) as session:
        topics = list(session.scalars(select(OutboxMessage.topic).where(OutboxMessage.aggregate_id == uuid.UUID(case["id"]))))
    assert topics == ["case.routing_requested"]


def test_an_unroutable_case_is_routed_later(api, police, gateway_service):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    api.post("/internal/v1/messages", json=envelope("case.unroutable", case["id"], reason="no provider"), headers=gateway_service)
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == "unroutable"
    api.post("/internal/v1/messages", json=envelope("case.routed", case["id"], provider_id=str(uuid.uuid4()), reason="new provider"), headers=gateway_service)
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == "routed"


def test_a_message_after_the_end_is_kept_as_a_fact_and_changes_nothing(api, police, gateway_service, referral_engine):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    api.post(f"/v1/referrals/{case['id']}/withdraw", json={"reason": "other"}, headers=police)
    response = api.post("/internal/v1/messages", json=envelope("case.routed", case["id"], provider_id=str(uuid.uuid4()), reason="late"), headers=gateway_service)
    assert response.status_code == 200
    assert api.get(f"/v1/referrals/{case['id']}", headers=police).json()["status"] == "withdrawn"
    timeline = api.get(f"/v1/referrals/{case['id']}/timeline", headers=police).json()
    assert [item["kind"] for item in timeline["items"]] == ["referral.received", "police.withdrew", "case.routed"]


def test_a_message_about_no_case_is_refused_with_its_reason(api, police, gateway_service):
    response = api.post("/internal/v1/messages", json=envelope("case.routed", str(uuid.uuid4()), provider_id=str(uuid.uuid4()), reason="x"), headers=gateway_service)
    assert response.status_code == 409
    assert response.json()["code"] == "unknown_case"


def test_an_unknown_topic_or_payload_is_a_problem_and_is_not_recorded(api, police, gateway_service, referral_engine):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    for message in (envelope("case.teleported", case["id"]), envelope("case.routed", case["id"], reason="no provider id")):
        response = api.post("/internal/v1/messages", json=message, headers=gateway_service)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
    with Session(referral_engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxMessage)) == 0
        assert session.scalar(select(func.count()).select_from(CaseFact)) == 1


def test_only_the_gateway_service_may_post_messages(api, police):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    response = api.post("/internal/v1/messages", json=envelope("case.unroutable", case["id"], reason="x"), headers=police)
    assert response.status_code == 403


def test_a_batch_applies_each_message_on_its_own(api, police, gateway_service, referral_engine):
    first = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    second = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    routed = envelope("case.routed", first["id"], provider_id=str(uuid.uuid4()), reason="only provider")
    api.post("/internal/v1/messages", json=routed, headers=gateway_service)
    batch = [
        routed,  # a repeat
        envelope("case.teleported", second["id"]),  # refused
        envelope("case.unroutable", second["id"], reason="no provider"),
    ]
    response = api.post("/internal/v1/messages/batch", json={"messages": batch}, headers=gateway_service)
    assert response.status_code == 200
    receipts = response.json()["receipts"]
    assert [(r["applied"], r["duplicate"]) for r in receipts] == [(True, True), (False, False), (True, False)]
    assert "/topic" in receipts[1]["problem"]
    assert api.get(f"/v1/referrals/{second['id']}", headers=police).json()["status"] == "unroutable"
    assert len(api.get(f"/v1/referrals/{first['id']}", headers=police).json()["history"]) == 2


def test_a_batch_may_hold_at_most_100_messages(api, police, gateway_service):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    messages = [envelope("case.unroutable", case["id"], reason="x") for _ in range(101)]
    response = api.post("/internal/v1/messages/batch", json={"messages": messages}, headers=gateway_service)
    assert response.status_code == 422
