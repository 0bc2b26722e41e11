"""Once a case is withdrawn or has left a provider, that provider sees only that it ended.

`GET /v1/provider/referrals/{id}` answers a shape of its own (`view: ended`: the case
id and why it ended for this provider), never the referral; and nothing it can still
pull carries the referral. (Taken from it on disabling: test_disabled_providers.py.)
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.credentials import Role
from provider_gateway.cases.schemas import ProviderCaseEnded
from provider_gateway.deliveries.tables import Delivery
from support.gateway_flows import register_provider, route_a_case
from support.processes import wait_for
from support.provider_events import Provider
from support.referrals import adult_referral

PERSON = "Synthetic"  # the family name in every referral these tests send


def withdraw(gateway, referral_service, case_id: str) -> None:
    message = {"id": str(uuid.uuid4()), "topic": "case.status_changed", "aggregate_id": case_id,
               "payload": {"case_id": case_id, "status": "withdrawn", "version": 99, "reason": "charged_instead"},
               "created_at": "2026-11-24T09:00:00Z"}
    assert gateway.post("/internal/v1/messages", json=message, headers=referral_service).status_code == 200


def test_after_withdrawal_the_provider_that_had_it_sees_only_that_it_ended(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    key = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    case_id = route_a_case(gateway, referral_service)
    assert gateway.get(f"/v1/provider/referrals/{case_id}", headers=key).json()["referral"]["case_id"] == case_id
    gateway.post(f"/v1/provider/referrals/{case_id}/acknowledge", headers=key)

    withdraw(gateway, referral_service, case_id)

    response = gateway.get(f"/v1/provider/referrals/{case_id}", headers=key)
    assert response.status_code == 200
    assert response.json() == {"view": "ended", "case_id": case_id, "status": "withdrawn"}
    [notice] = gateway.get("/v1/provider/referrals", headers=key).json()["items"]
    assert notice["message"]["type"] == "referral.withdrawn" and PERSON not in str(notice)


def test_a_withdrawn_referral_not_yet_pulled_is_no_longer_listed_nor_readable(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    key = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    case_id = route_a_case(gateway, referral_service)

    withdraw(gateway, referral_service, case_id)

    assert gateway.get("/v1/provider/referrals", headers=key).json()["items"] == []
    view = gateway.get(f"/v1/provider/referrals/{case_id}", headers=key).json()
    assert view == {"view": "ended", "case_id": case_id, "status": "withdrawn"}


def test_a_provider_that_rejected_a_case_sees_only_that_it_ended(linked):
    records = [register_provider(linked.gateway, linked.admin, name=name) for name in ("A First Service", "B Second Service")]
    first, second = (Provider(linked.gateway, r, linked.provider_key(r["id"])) for r in records)
    response = linked.api.post("/v1/referrals", json=adult_referral(), headers=linked.police)
    case_id = response.json()["id"]
    linked.wait_for_status(case_id, "routed")
    # It reads the referral (without acknowledging it), then turns it down.
    assert linked.gateway.get(f"/v1/provider/referrals/{case_id}", headers=first.key).json()["view"] == "referral"
    first.report("referral.rejected", case_id, reason="no_capacity")
    assert wait_for(lambda: linked.gateway.get(f"/v1/provider/referrals/{case_id}", headers=second.key).json().get("view") == "referral")

    view = linked.gateway.get(f"/v1/provider/referrals/{case_id}", headers=first.key)
    assert view.status_code == 200
    assert view.json() == {"view": "ended", "case_id": case_id, "status": "rejected"}
    assert linked.gateway.get("/v1/provider/referrals", headers=first.key).json()["items"] == []
    with Session(linked.gateway_engine) as session:
        theirs = session.scalars(select(Delivery.status).where(Delivery.provider_id == uuid.UUID(first.id))).all()
    assert theirs == ["cancelled"]
    # Another provider, to whom the case never went, still cannot tell it exists.
    stranger = register_provider(linked.gateway, linked.admin, name="C Oxford Service", district="oxford")
    assert linked.gateway.get(f"/v1/provider/referrals/{case_id}", headers=linked.provider_key(stranger["id"])).status_code == 404


def test_the_ended_view_has_no_room_for_anyones_details():
    assert set(ProviderCaseEnded.model_fields) == {"view", "case_id", "status"}
