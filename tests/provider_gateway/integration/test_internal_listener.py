"""With an internal port set, the internal inbox is served there only: the public port
answers /internal/ with 404, and the internal listener serves nothing else."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from diversion_common.credentials import Role
from provider_gateway.clients.tables import Client
from provider_gateway.config import Settings
from provider_gateway.main import create_app
from support.credentials import bearer, issue_key
from support.gateway_flows import register_provider
from support.processes import free_port


def routing_request(case_id: str = "0b3a4c52-7a0e-4c39-9d5e-1f2a3b4c5d6e") -> dict:
    return {
        "id": "5f0e7c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b",
        "topic": "case.routing_requested",
        "aggregate_id": case_id,
        "created_at": "2026-11-20T21:20:00+00:00",
        "payload": {
            "case_id": case_id, "pathway": "adult_deferred_summons", "district": "reading", "force": "thames-valley",
            "encounter_date": "2026-11-20", "drugs": [{"name": "cannabis", "class": "B"}],
            "subject": {"given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "1996-01-01", "sex": "female",
                        "address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"},
                        "phone": "07700 900001",
                        "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": False}},
            "guardian": None, "out_of_hours_appointments": False,
        },
    }


def test_the_internal_inbox_is_served_only_on_its_own_listener(gateway_db, gateway_engine):
    port = free_port()
    service = bearer(issue_key(gateway_engine, Client, Role.service))
    admin = bearer(issue_key(gateway_engine, Client, Role.admin))
    settings = Settings(database_url=gateway_db, referral_api_key=None, run_delivery_worker=False, internal_port=port)
    with TestClient(create_app(settings), raise_server_exceptions=False) as public:
        register_provider(public, admin)
        message = routing_request()

        refused = public.post("/internal/v1/messages", json=message, headers=service)
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
        assert public.post("/internal/v1/messages/batch", json={"messages": [message]}, headers=service).status_code == 404

        internal = f"http://127.0.0.1:{port}"
        received = httpx.post(f"{internal}/internal/v1/messages", json=message, headers=service)
        assert received.status_code == 200, received.text
        assert received.json()["duplicate"] is False
        assert httpx.get(f"{internal}/health").status_code == 200
        # The internal listener is not a second public API.
        assert httpx.get(f"{internal}/v1/admin/providers", headers=admin).status_code == 404
        assert httpx.get(f"{internal}/docs").status_code == 404

        assert public.get(f"/v1/admin/cases/{message['aggregate_id']}/routing", headers=admin).status_code == 200
    # Stopped with the app: the port is free again.
    with httpx.Client() as client:
        try:
            client.get(f"{internal}/health", timeout=0.5)
            still_listening = True
        except httpx.ConnectError:
            still_listening = False
    assert not still_listening


def test_without_an_internal_port_the_inbox_stays_on_the_public_port(gateway, referral_service):
    assert gateway.post("/internal/v1/messages", json=routing_request(), headers=referral_service).status_code == 200
