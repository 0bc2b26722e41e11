"""Text the database cannot hold is refused at the door, alike on SQLite and PostgreSQL.

A NUL in a provider's name and a webhook_url longer than its 500-character column were
500s on PostgreSQL (and kept on SQLite). Each is now a 422 problem naming the field,
with nothing written.
"""

from __future__ import annotations

import json
import uuid

import pytest

from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.credentials import Role
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.messaging.tables import InboxMessage
from provider_gateway.providers.tables import Provider

PROVIDERS = "/v1/admin/providers"
INBOX = "/internal/v1/messages"
PROBLEM = "application/problem+json"
NUL = "\x00"
HOOK = "https://provider.example/"


def provider_body(**overrides) -> dict:
    body = {
        "name": "Reading Recovery Service",
        "pathways": ["adult_deferred_summons"],
        "districts": ["reading"],
        "delivery_mode": "webhook",
        "webhook_url": HOOK + "hooks",
        "contact_email": "referrals@recovery.example",
    }
    return {**body, **overrides}


def assert_refused(response, *pointers: str) -> dict:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert {e["pointer"] for e in problem["errors"]} == set(pointers)
    assert "\\u0000" not in json.dumps([problem.get("detail"), problem["errors"]])  # the input is not echoed
    return problem


def providers(engine) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        return [(p.name, p.webhook_url) for p in session.scalars(select(Provider))]


def test_a_nul_in_a_providers_name_is_refused_and_nothing_is_written(gateway, admin, gateway_engine):
    response = gateway.post(PROVIDERS, json=provider_body(name=f"Reading{NUL}Recovery"), headers=admin)
    assert_refused(response, "/name")
    assert providers(gateway_engine) == []


def test_a_nul_in_a_contact_email_is_refused(gateway, admin, gateway_engine):
    response = gateway.post(PROVIDERS, json=provider_body(contact_email=f"referrals{NUL}@recovery.example"), headers=admin)
    assert_refused(response, "/contact_email")
    assert providers(gateway_engine) == []


def test_a_webhook_url_longer_than_its_column_is_refused(gateway, admin, gateway_engine):
    response = gateway.post(PROVIDERS, json=provider_body(webhook_url=HOOK + "a" * (501 - len(HOOK))), headers=admin)
    assert_refused(response, "/webhook_url")
    assert providers(gateway_engine) == []


def test_a_webhook_url_of_exactly_its_column_is_kept(gateway, admin, gateway_engine):
    longest = HOOK + "a" * (500 - len(HOOK))
    response = gateway.post(PROVIDERS, json=provider_body(webhook_url=longest), headers=admin)
    assert response.status_code == 201, response.text
    assert providers(gateway_engine) == [("Reading Recovery Service", longest)]


def test_a_change_to_a_too_long_or_nul_name_or_url_is_refused_and_changes_nothing(gateway, admin, gateway_engine):
    created = gateway.post(PROVIDERS, json=provider_body(), headers=admin).json()
    for change, pointer in (
        ({"webhook_url": HOOK + "a" * 600}, "/webhook_url"),
        ({"webhook_url": HOOK + " x" * 150}, "/webhook_url"),  # 325 sent, 625 once each space is %20
        ({"webhook_url": HOOK + NUL}, "/webhook_url"),
        ({"name": "x" * 201}, "/name"),
        ({"name": NUL}, "/name"),
    ):
        assert_refused(gateway.patch(f"{PROVIDERS}/{created['id']}", json=change, headers=admin), pointer)
    assert providers(gateway_engine) == [("Reading Recovery Service", HOOK + "hooks")]


def test_a_nul_or_an_overlong_id_in_a_path_is_refused(gateway, admin, issue_gateway_key):
    for delivery_id in ("msg_%00", "msg_" + "a" * 40):
        assert_refused(gateway.get(f"/v1/admin/deliveries/{delivery_id}", headers=admin), "#path/delivery_id")
        assert_refused(gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin), "#path/delivery_id")
    created = gateway.post(PROVIDERS, json=provider_body(delivery_mode="pull", webhook_url=None), headers=admin).json()
    provider = issue_gateway_key(Role.provider, provider_id=uuid.UUID(created["id"]))
    assert_refused(gateway.get("/v1/provider/events/evt%00", headers=provider), "#path/webhook_id")


def test_a_cursor_carrying_a_nul_is_refused(gateway, admin):
    for path in ("/v1/admin/deliveries", "/v1/admin/cases", "/v1/admin/provider-events", "/v1/admin/messages"):
        assert_refused(gateway.get(path, params={"cursor": f"a{NUL}b"}, headers=admin), "#query/cursor")



def message(topic: str, case_id: str, payload: dict) -> dict:
    return {"id": str(uuid.uuid4()), "topic": topic, "aggregate_id": case_id, "payload": payload, "created_at": "2026-01-05T10:00:00Z"}


def routing_requested(case_id: str, given_name: str = "Sam") -> dict:
    return message("case.routing_requested", case_id, {
        "case_id": case_id, "pathway": "adult_deferred_summons", "district": "reading", "force": "thames-valley",
        "encounter_date": "2026-01-05", "drugs": [{"name": "cannabis", "class": "B"}],
        "subject": {
            "given_name": given_name, "family_name": "Synthetic", "date_of_birth": "1996-03-14", "sex": "female",
            "address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"},
            "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": False},
        },
        "out_of_hours_appointments": False,
    })


def counts(engine) -> tuple[int, int]:
    with Session(engine) as session:
        return (session.scalar(select(func.count()).select_from(InboxMessage)), session.scalar(select(func.count()).select_from(GatewayCase)))


def test_an_internal_message_the_database_cannot_hold_is_refused(gateway, referral_service, gateway_engine):
    case_id = str(uuid.uuid4())
    assert_refused(gateway.post(INBOX, json=routing_requested(case_id, given_name=f"Sam{NUL}"), headers=referral_service), "/payload/subject/given_name")
    assert counts(gateway_engine) == (0, 0)
    assert gateway.post(INBOX, json={**routing_requested(case_id), "topic": f"case.routed{NUL}"}, headers=referral_service).status_code == 422

    assert gateway.post(INBOX, json=routing_requested(case_id), headers=referral_service).status_code == 200
    # A version past a PostgreSQL integer (SQLite's hold 64 bits) was a 500 there.
    too_big = message("case.status_changed", case_id, {"case_id": case_id, "status": "withdrawn", "version": 2**31, "reason": "other"})
    assert_refused(gateway.post(INBOX, json=too_big, headers=referral_service), "/payload/version")
    assert counts(gateway_engine) == (1, 1)
    with Session(gateway_engine) as session:
        assert session.get(GatewayCase, uuid.UUID(case_id)).case_version == 0


# Issue 23: control characters were stored in providers' names (and shown to every party).
@pytest.mark.parametrize("control", ["\x1b[2J", "\x85", "\x9b31m", "\r", "\n", "\t", "\x7f"])
def test_a_control_character_in_a_providers_name_is_refused_and_nothing_is_written(gateway, admin, gateway_engine, control):
    response = gateway.post(PROVIDERS, json=provider_body(name=f"Reading{control}Recovery"), headers=admin)
    problem = assert_refused(response, "/name")
    assert control not in json.dumps(problem, ensure_ascii=False)  # the input is not echoed
    assert providers(gateway_engine) == []
