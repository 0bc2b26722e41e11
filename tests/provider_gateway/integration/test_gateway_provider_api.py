"""What providers do with us: pull referrals, read their status, accept or reject (signed)."""

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


def test_accepting_a_referral_tells_referral_api(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    body, headers = signed_event(provider["signing_secret"], {"type": "referral.accepted", "data": {"case_id": case_id}})

    response = gateway.post("/v1/provider/events", content=body, headers={**headers, **provider_key(issue_gateway_key, provider)})
    assert response.status_code == 200, response.text
    assert response.json()["case_status"] == "accepted"
    assert outbox_topics(gateway_engine, case_id) == ["case.routed", "case.accepted"]


def test_a_repeated_event_changes_nothing(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    body, headers = signed_event(provider["signing_secret"], {"type": "referral.accepted", "data": {"case_id": case_id}})
    auth = provider_key(issue_gateway_key, provider)
    gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})
    again = gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert outbox_topics(gateway_engine, case_id) == ["case.routed", "case.accepted"]


def test_a_rejection_routes_the_case_to_the_next_provider(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    first = register_provider(gateway, admin, name="A First Service")
    second = register_provider(gateway, admin, name="B Second Service")
    case_id = route_a_case(gateway, referral_service)
    assert str(delivery_for(gateway_engine, case_id).provider_id) == first["id"]

    event = {"type": "referral.rejected", "data": {"case_id": case_id, "reason": "no_capacity"}}
    body, headers = signed_event(first["signing_secret"], event)
    response = gateway.post("/v1/provider/events", content=body, headers={**headers, **provider_key(issue_gateway_key, first)})

    assert response.json()["case_status"] == "routed"
    assert str(delivery_for(gateway_engine, case_id).provider_id) == second["id"]
    assert outbox_topics(gateway_engine, case_id) == ["case.routed", "case.routed"]
    routing = gateway.get(f"/v1/admin/cases/{case_id}/routing", headers=admin).json()
    assert [d["provider_id"] for d in routing["decisions"]] == [first["id"], second["id"]]
    assert "declined" not in routing["decisions"][0]["reason"]


def test_when_every_provider_rejects_the_case_is_unroutable(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    only = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    body, headers = signed_event(only["signing_secret"], {"type": "referral.rejected", "data": {"case_id": case_id, "reason": "out_of_area"}})
    response = gateway.post("/v1/provider/events", content=body, headers={**headers, **provider_key(issue_gateway_key, only)})
    assert response.json()["case_status"] == "unroutable"
    assert outbox_topics(gateway_engine, case_id) == ["case.routed", "case.unroutable"]
    assert [c["case_id"] for c in gateway.get("/v1/admin/cases", params={"status": "unroutable"}, headers=admin).json()["items"]] == [case_id]


def test_an_unsigned_or_wrongly_signed_event_is_refused(gateway, admin, referral_service, issue_gateway_key, gateway_engine):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    auth = provider_key(issue_gateway_key, provider)
    event = {"type": "referral.accepted", "data": {"case_id": case_id}}
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


def test_an_event_about_a_case_no_longer_waiting_is_a_conflict(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    auth = provider_key(issue_gateway_key, provider)
    body, headers = signed_event(provider["signing_secret"], {"type": "referral.accepted", "data": {"case_id": case_id}})
    gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})
    body, headers = signed_event(provider["signing_secret"], {"type": "referral.rejected", "data": {"case_id": case_id, "reason": "other"}})
    response = gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})
    assert response.status_code == 409


def test_after_a_rotation_both_secrets_verify_until_the_overlap_ends(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    rotated = gateway.post(f"/v1/admin/providers/{provider['id']}/secrets", json={"overlap_hours": 1}, headers=admin)
    assert rotated.status_code == 201
    new_secret = rotated.json()["signing_secret"]
    assert new_secret != provider["signing_secret"]
    auth = provider_key(issue_gateway_key, provider)
    for secret in (provider["signing_secret"], new_secret):
        case_id = route_a_case(gateway, referral_service)
        body, headers = signed_event(secret, {"type": "referral.accepted", "data": {"case_id": case_id}})
        assert gateway.post("/v1/provider/events", content=body, headers={**headers, **auth}).status_code == 200

    gateway.post(f"/v1/admin/providers/{provider['id']}/secrets", json={"overlap_hours": 0}, headers=admin)
    case_id = route_a_case(gateway, referral_service)
    body, headers = signed_event(new_secret, {"type": "referral.accepted", "data": {"case_id": case_id}})
    assert gateway.post("/v1/provider/events", content=body, headers={**headers, **auth}).status_code == 401


def test_the_admin_lists_dead_deliveries_and_redelivers(gateway, admin, referral_service, gateway_engine):
    from provider_gateway.deliveries.tables import Delivery

    register_provider(gateway, admin, webhook_url="http://127.0.0.1:9/unused")
    case_id = route_a_case(gateway, referral_service)
    delivery_id = delivery_for(gateway_engine, case_id).id
    with Session(gateway_engine) as session:  # as the worker leaves it when the schedule is spent
        row = session.get(Delivery, delivery_id)
        row.status, row.attempts, row.last_error = "dead", 24, "timeout"
        session.commit()

    dead = gateway.get("/v1/admin/deliveries", params={"status": "dead"}, headers=admin).json()["items"]
    assert [d["id"] for d in dead] == [delivery_id]
    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 202
    detail = gateway.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin).json()
    assert detail["status"] == "pending" and detail["attempts"] == 0
    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 409


def test_a_repeated_event_id_tells_nothing_about_another_case(gateway, admin, referral_service, issue_gateway_key):
    mine = register_provider(gateway, admin, name="Mine")
    theirs = register_provider(gateway, admin, name="Theirs", district="oxford")
    my_case = route_a_case(gateway, referral_service)
    their_case = route_a_case(gateway, referral_service, district="oxford")
    auth = provider_key(issue_gateway_key, mine)
    body, headers = signed_event(mine["signing_secret"], {"type": "referral.accepted", "data": {"case_id": my_case}}, "evt_probe")
    gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})

    # The same webhook-id, now naming another provider's case.
    body, headers = signed_event(mine["signing_secret"], {"type": "referral.rejected", "data": {"case_id": their_case, "reason": "other"}}, "evt_probe")
    response = gateway.post("/v1/provider/events", content=body, headers={**headers, **auth})
    assert response.json() == {"webhook_id": "evt_probe", "duplicate": True, "case_status": "accepted"}
    assert gateway.get(f"/v1/provider/referrals/{their_case}", headers=provider_key(issue_gateway_key, theirs)).json()["status"] == "routed"


def test_a_delivery_is_not_redelivered_once_the_case_has_left_the_provider(gateway, admin, referral_service, gateway_engine):
    from provider_gateway.deliveries.tables import Delivery

    register_provider(gateway, admin, webhook_url="http://127.0.0.1:9/unused")
    case_id = route_a_case(gateway, referral_service)
    delivery_id = delivery_for(gateway_engine, case_id).id
    with Session(gateway_engine) as session:
        row = session.get(Delivery, delivery_id)
        row.status = "delivered"
        session.commit()
    withdrawal = {"id": str(uuid.uuid4()), "topic": "case.withdrawn", "aggregate_id": case_id,
                  "payload": {"case_id": case_id, "reason": "charged_instead"}, "created_at": "2026-11-24T09:00:00Z"}
    gateway.post("/internal/v1/messages", json=withdrawal, headers=referral_service)

    response = gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin)
    assert response.status_code == 409
    assert gateway.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin).json()["status"] == "delivered"


def withdraw(gateway, referral_service, case_id: str) -> None:
    message = {"id": str(uuid.uuid4()), "topic": "case.withdrawn", "aggregate_id": case_id,
               "payload": {"case_id": case_id, "reason": "charged_instead"}, "created_at": "2026-11-24T09:00:00Z"}
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
