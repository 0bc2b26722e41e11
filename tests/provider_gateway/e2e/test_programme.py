"""A whole programme over real HTTP between real processes, with the police told as it goes.

The provider signs its events with the public `standardwebhooks` package; the police
system is a fake outside party that verifies every notification the same way.
"""

from __future__ import annotations

import uuid

import httpx

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from support.credentials import bearer, issue_key
from support.fake_provider import FakeProvider
from support.gateway_flows import signed_event
from support.processes import wait_for
from support.provider_events import ADULT_PROGRAMME, event, moment
from support.referrals import adult_referral, youth_referral

PULL_PROVIDER = {
    "name": "E2E Adult Service",
    "pathways": ["adult_deferred_summons"],
    "districts": ["reading"],
    "delivery_mode": "pull",
    "contact_email": "intake@adult.provider.example",
}


class ProviderSystem:
    def __init__(self, system) -> None:
        created = httpx.post(f"{system.gateway.url}/v1/admin/providers", json=PULL_PROVIDER, headers=system.headers("admin"))
        assert created.status_code == 201, created.text
        self.id, self.secret = created.json()["id"], created.json()["signing_secret"]
        engine = make_engine(system.env["PROVIDER_GATEWAY_DATABASE_URL"])
        self.key = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(self.id)))
        engine.dispose()
        self.url = system.gateway.url

    def send(self, body, webhook_id: str | None = None) -> httpx.Response:
        raw, headers = signed_event(self.secret, body, webhook_id)
        return httpx.post(f"{self.url}/v1/provider/events", content=raw, headers={**headers, **self.key}, timeout=10)


def refer_and_route(system) -> str:
    response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"))
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    assert wait_for(lambda: case(system, case_id)["status"] == "routed")
    return case_id


def case(system, case_id: str) -> dict:
    return httpx.get(f"{system.referral_api.url}/v1/referrals/{case_id}", headers=system.headers("police")).json()


def test_an_adult_programme_to_completed_with_the_police_told_of_each_step(system):
    system.env["REFERRAL_API_DELIVERY_POLL_SECONDS"] = "0.05"
    system.gateway.start()
    system.referral_api.start()
    police_system = FakeProvider().start()
    try:
        registered = httpx.put(
            f"{system.referral_api.url}/v1/admin/police-callbacks/thames-valley",
            json={"url": police_system.url}, headers=system.headers("referral_admin"),
        )
        assert registered.status_code == 201, registered.text
        police_system.secrets = [registered.json()["signing_secret"]]
        provider = ProviderSystem(system)
        case_id = refer_and_route(system)

        for kind, data in ADULT_PROGRAMME:
            response = provider.send(event(kind, case_id, **data))
            assert response.status_code == 200, response.text
        assert response.json()["case_status"] == "completed"

        expected = ["accepted_by_provider", "in_programme", "completed"]
        assert wait_for(lambda: [r.payload["data"]["status"] for r in police_system.accepted()] == expected, timeout=20), (
            [r.payload for r in police_system.received]
        )
        notices = [r.payload for r in police_system.accepted()]
        assert all(r.verified for r in police_system.received)
        assert [n["data"]["version"] for n in notices] == sorted(n["data"]["version"] for n in notices)
        assert set(notices[0]["data"]) == {"case_id", "police_reference", "status", "version", "links"}  # thin: no personal data
        # What a police system does with a notice: follow the link.
        followed = httpx.get(notices[-1]["data"]["links"]["case"], headers=system.headers("police")).json()
        assert followed["status"] == "completed" and followed["programme"]["remaining"] == []
    finally:
        police_system.stop()


def test_events_sent_while_referral_api_is_down_are_applied_once_when_it_is_back(system):
    system.gateway.start()
    system.referral_api.start()
    provider = ProviderSystem(system)
    case_id = refer_and_route(system)
    system.referral_api.kill()

    accepted = provider.send(event("referral.accepted", case_id), "evt_while_down_1")
    contact = provider.send(event("contact.attempted", case_id, method="phone", outcome="reached"), "evt_while_down_2")
    assert accepted.status_code == contact.status_code == 202, accepted.text
    assert accepted.json()["outcome"] == "pending"
    assert provider.send(event("referral.accepted", case_id), "evt_while_down_1").json()["duplicate"] is True

    system.referral_api.start()
    receipt_url = f"{system.gateway.url}{contact.json()['links']['self']}"
    assert wait_for(lambda: httpx.get(receipt_url, headers=provider.key).json()["outcome"] == "applied", timeout=20)
    assert httpx.get(receipt_url, headers=provider.key).json()["case_status"] == "in_programme"
    detail = case(system, case_id)
    assert detail["status"] == "in_programme"
    # referral.received, case.routed, and each event once, however often it was sent.
    assert detail["version"] == 4
    again = provider.send(event("referral.accepted", case_id), "evt_while_down_1")
    assert again.status_code == 200 and again.json()["outcome"] == "applied"
    assert case(system, case_id)["version"] == 4



def test_a_young_persons_case_with_every_other_kind_of_event_and_the_refusals(system):
    system.gateway.start()
    system.referral_api.start()
    youth = {**PULL_PROVIDER, "name": "E2E Youth Service", "pathways": ["youth_community_resolution"]}
    created = httpx.post(f"{system.gateway.url}/v1/admin/providers", json=youth, headers=system.headers("admin"))
    provider = ProviderSystem.__new__(ProviderSystem)
    provider.id, provider.secret, provider.url = created.json()["id"], created.json()["signing_secret"], system.gateway.url
    engine = make_engine(system.env["PROVIDER_GATEWAY_DATABASE_URL"])
    provider.key = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(provider.id)))
    engine.dispose()
    response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=youth_referral(), headers=system.headers("police"))
    case_id = response.json()["id"]
    assert wait_for(lambda: case(system, case_id)["status"] == "routed")

    def status_after(event_type, **data):
        answer = provider.send(event(event_type, case_id, **data))
        assert answer.status_code == 200, answer.text
        return answer.json()["case_status"]

    assert status_after("referral.accepted") == "accepted_by_provider"
    assert status_after("appointment.booked", appointment_id="y-1", kind="session", starts_at=moment(60), mode="in_person") == "in_programme"
    assert status_after("appointment.cancelled", appointment_id="y-1", cancelled_by="provider", reason="staff illness") == "in_programme"
    refused = provider.send(event("appointment.attended", case_id, appointment_id="y-9"))
    assert refused.status_code == 409 and refused.json()["code"] == "appointment_not_booked"
    raw, headers = signed_event(provider.secret, event("engagement.refused", case_id))
    forged = httpx.post(f"{provider.url}/v1/provider/events", content=raw.replace(b"refused", b"refuses"), headers={**headers, **provider.key})
    assert forged.status_code in (401, 422)
    assert status_after("engagement.refused") == "breach_requested"  # a refusal raises a breach request at once
    # A closure is never a breach, but the refusal before it raised one: it waits for the officer.
    assert status_after("case.closed_by_provider", reason="moved_away") == "breach_requested"

    detail = case(system, case_id)
    assert detail["status"] == "breach_requested" and detail["programme"]["cancelled"] == 1
    timeline = httpx.get(f"{system.referral_api.url}/v1/referrals/{case_id}/timeline", headers=system.headers("police")).json()
    assert "staff illness" not in str(timeline)
