"""What providers do with us: pull referrals and read them; unsigned events are refused.

Signed events that referral_api decides are in test_provider_events.py."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.credentials import Role
from provider_gateway.messaging.tables import OutboxMessage
from support.gateway_flows import delivery_for, register_provider, route_a_case, signed_event


def provider_key(issue_gateway_key, provider: dict) -> dict[str, str]:
    return issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))


def outbox_topics(engine, case_id: str) -> list[str]:
    with Session(engine) as session:
        rows = session.scalars(select(OutboxMessage).where(OutboxMessage.aggregate_id == uuid.UUID(case_id)).order_by(OutboxMessage.created_at))
        return [m.topic for m in rows]


def test_a_pull_provider_lists_its_referrals_until_it_acknowledges(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin)
    headers = provider_key(issue_gateway_key, provider)
    case_id = route_a_case(gateway, referral_service)

    listed = gateway.get("/v1/provider/referrals", headers=headers).json()["items"]
    assert [item["case_id"] for item in listed] == [case_id]
    assert listed[0]["message"]["type"] == "referral.created"
    assert listed[0]["webhook_id"] == delivery_for(gateway_engine, case_id).id

    acknowledged = gateway.post(f"/v1/provider/referrals/{case_id}/acknowledge", headers=headers)
    assert acknowledged.json()["status"] == "acknowledged"
    assert gateway.get("/v1/provider/referrals", headers=headers).json()["items"] == []


def test_a_provider_sees_only_its_own_referrals(gateway, admin, referral_service, issue_gateway_key):
    mine = register_provider(gateway, admin, name="Mine", district="reading")
    theirs = register_provider(gateway, admin, name="Theirs", district="oxford")
    their_case = route_a_case(gateway, referral_service, district="oxford")
    headers = provider_key(issue_gateway_key, mine)

    assert gateway.get("/v1/provider/referrals", headers=headers).json()["items"] == []
    assert gateway.get(f"/v1/provider/referrals/{their_case}", headers=headers).status_code == 404
    assert gateway.post(f"/v1/provider/referrals/{their_case}/acknowledge", headers=headers).status_code == 404
    theirs_headers = provider_key(issue_gateway_key, theirs)
    view = gateway.get(f"/v1/provider/referrals/{their_case}", headers=theirs_headers).json()
    assert view["status"] == "routed" and view["referral"]["case_id"] == their_case


def test_an_unsigned_or_wrongly_signed_event_is_refused(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    auth = provider_key(issue_gateway_key, provider)
    event = {"type": "referral.accepted", "data": {"case_id": case_id, "occurred_at": "2026-11-30T10:00:00Z"}}
    other_secret = register_provider(gateway, admin, name="Other", district="oxford")["signing_secret"]

    unsigned = gateway.post("/v1/provider/events", json=event, headers=auth)
    body, headers = signed_event(other_secret, event)
    wrong = gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})
    body, headers = signed_event(provider["signing_secret"], event)
    tampered = gateway.post("/v1/provider/events", content=body.replace(b"accepted", b"rejected"), headers={**headers, **auth})

    for response in (unsigned, wrong, tampered):
        assert response.status_code in (401, 422), response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert unsigned.status_code == wrong.status_code == 401
    assert outbox_topics(gateway_engine, case_id) == ["case.routed"]


def test_the_admin_lists_dead_deliveries_and_redelivers(gateway, admin, referral_service, gateway_engine):
    from diversion_common.webhooks.addressing import url_sha256
    from provider_gateway.deliveries.tables import Delivery

    register_provider(gateway, admin, webhook_url="http://127.0.0.1:9/unused")
    case_id = route_a_case(gateway, referral_service)
    delivery_id = delivery_for(gateway_engine, case_id).id
    with Session(gateway_engine) as session:  # as the worker leaves it when the schedule is spent
        row = session.get(Delivery, delivery_id)
        row.status, row.attempts, row.last_error = "dead", 24, "timeout"
        row.sent_to_sha256 = url_sha256("http://127.0.0.1:9/unused")  # where it was sent
        session.commit()

    dead = gateway.get("/v1/admin/deliveries", params={"status": "dead"}, headers=admin).json()["items"]
    assert [d["id"] for d in dead] == [delivery_id]
    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 202
    detail = gateway.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin).json()
    assert detail["status"] == "pending" and detail["attempts"] == 0
    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 409


def test_a_delivery_is_not_redelivered_once_the_case_has_left_the_provider(gateway, admin, referral_service, gateway_engine):
    from provider_gateway.deliveries.tables import Delivery

    register_provider(gateway, admin, webhook_url="http://127.0.0.1:9/unused")
    case_id = route_a_case(gateway, referral_service)
    delivery_id = delivery_for(gateway_engine, case_id).id
    with Session(gateway_engine) as session:
        row = session.get(Delivery, delivery_id)
        row.status = "delivered"
        session.commit()
    withdrawal = {"id": str(uuid.uuid4()), "topic": "case.status_changed", "aggregate_id": case_id,
                  "payload": {"case_id": case_id, "status": "withdrawn", "version": 99, "reason": "charged_instead"}, "created_at": "2026-11-24T09:00:00Z"}
    gateway.post("/internal/v1/messages", json=withdrawal, headers=referral_service)

    response = gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin)
    assert response.status_code == 409
    assert gateway.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin).json()["status"] == "delivered"


def withdraw(gateway, referral_service, case_id: str) -> None:
    message = {"id": str(uuid.uuid4()), "topic": "case.status_changed", "aggregate_id": case_id,
               "payload": {"case_id": case_id, "status": "withdrawn", "version": 99, "reason": "charged_instead"}, "created_at": "2026-11-24T09:00:00Z"}
    assert gateway.post("/internal/v1/messages", json=message, headers=referral_service).status_code == 200


def test_a_provider_that_has_the_referral_is_told_of_its_withdrawal(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    headers = provider_key(issue_gateway_key, provider)
    case_id = route_a_case(gateway, referral_service)
    gateway.post(f"/v1/provider/referrals/{case_id}/acknowledge", headers=headers)
    withdraw(gateway, referral_service, case_id)

    [notice] = gateway.get("/v1/provider/referrals", headers=headers).json()["items"]
    assert notice["message"]["type"] == "referral.withdrawn"
    assert notice["message"]["data"] == {"case_id": case_id, "reason": "charged_instead"}
    gateway.post(f"/v1/provider/referrals/{case_id}/acknowledge", headers=headers)
    assert gateway.get("/v1/provider/referrals", headers=headers).json()["items"] == []


def test_a_provider_that_never_had_the_referral_is_not_told_anything(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    headers = provider_key(issue_gateway_key, provider)
    case_id = route_a_case(gateway, referral_service)
    withdraw(gateway, referral_service, case_id)
    assert gateway.get("/v1/provider/referrals", headers=headers).json()["items"] == []


def test_switching_to_pull_mode_lists_what_was_not_yet_delivered(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin, webhook_url="http://127.0.0.1:9/unused")
    case_id = route_a_case(gateway, referral_service)
    assert delivery_for(gateway_engine, case_id).status == "pending"
    gateway.patch(f"/v1/admin/providers/{provider['id']}", json={"delivery_mode": "pull"}, headers=admin)
    listed = gateway.get("/v1/provider/referrals", headers=provider_key(issue_gateway_key, provider)).json()["items"]
    assert [item["case_id"] for item in listed] == [case_id]


def test_webhooks_go_over_https_except_to_this_machine(gateway, admin):
    base = {"pathways": ["adult_deferred_summons"], "districts": ["reading"], "delivery_mode": "webhook", "contact_email": "a@provider.example"}
    plain = gateway.post("/v1/admin/providers", json={**base, "name": "Plain", "webhook_url": "http://provider.example/hook"}, headers=admin)
    assert plain.status_code == 422
    assert plain.json()["errors"][0]["pointer"] == "/webhook_url"
    secure = gateway.post("/v1/admin/providers", json={**base, "name": "Secure", "webhook_url": "https://provider.example/hook"}, headers=admin)
    assert secure.status_code == 201


def test_an_event_referral_api_cannot_take_now_is_kept_and_answered_202(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    auth = provider_key(issue_gateway_key, provider)
    event = {"type": "referral.accepted", "data": {"case_id": case_id, "occurred_at": "2026-11-30T10:00:00Z"}}
    body, headers = signed_event(provider["signing_secret"], event, "evt_kept")

    response = gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})  # this gateway has no relay

    assert response.status_code == 202, response.text
    assert response.json()["outcome"] == "pending" and response.json()["case_status"] is None
    assert gateway.get("/v1/provider/events/evt_kept", headers=auth).json()["outcome"] == "pending"
    pending = gateway.get("/v1/admin/provider-events", params={"outcome": "pending"}, headers=admin).json()["items"]
    assert [p["webhook_id"] for p in pending] == ["evt_kept"]
    assert outbox_topics(gateway_engine, case_id) == ["case.routed", "provider.event_reported"]
    assert gateway.get("/v1/provider/events/evt_kept", headers=provider_key(issue_gateway_key, register_provider(gateway, admin, name="Other", district="oxford"))).status_code == 404
