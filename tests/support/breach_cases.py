"""Steps the breach tests take over real HTTP: a provider, a case it accepted, missed appointments,
the breach requests a caller sees."""

from __future__ import annotations

from support.gateway_flows import register_provider
from support.provider_events import AT_BOOKING, Provider
from support.referrals import adult_referral


def provider(linked, pathways=("adult_deferred_summons",), name="Reading Drug Service") -> Provider:
    record = register_provider(linked.gateway, linked.admin, name=name, pathways=pathways, district="reading")
    return Provider(linked.gateway, record, linked.provider_key(record["id"]))


def accepted_case(linked, service: Provider, referral=None) -> str:
    response = linked.api.post("/v1/referrals", json=referral or adult_referral(), headers=linked.police)
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    linked.wait_for_status(case_id, "routed")
    service.report("referral.accepted", case_id)
    return case_id


def miss(service: Provider, case_id: str, appointment_id: str, reason: str = "unacceptable") -> dict:
    service.report("appointment.booked", case_id, appointment_id=appointment_id, kind="session", starts_at=AT_BOOKING, mode="in_person")
    return service.report("appointment.missed", case_id, appointment_id=appointment_id, reason_category=reason)


def breach_requests(linked, headers) -> list[dict]:
    response = linked.api.get("/v1/breach-requests", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]
