"""A referral crosses both services over real HTTP and comes back routed."""

from __future__ import annotations

import json

import httpx

from support.processes import cli, wait_for
from support.referrals import adult_referral, youth_referral

ADULT_PROVIDER = {
    "name": "E2E Adult Service",
    "pathways": ["adult_deferred_summons"],
    "districts": ["reading", "oxford"],
    "out_of_hours": True,
    "delivery_mode": "pull",
    "contact_email": "intake@adult.provider.example",
}


def status_of(system, case_id: str) -> str:
    return httpx.get(f"{system.referral_api.url}/v1/referrals/{case_id}", headers=system.headers("police")).json()["status"]


def test_a_referral_is_routed_to_its_provider(system):
    system.gateway.start()
    system.referral_api.start()
    created = httpx.post(f"{system.gateway.url}/v1/admin/providers", json=ADULT_PROVIDER, headers=system.headers("admin"))
    assert created.status_code == 201, created.text

    response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"))
    assert response.status_code == 201
    case_id = response.json()["id"]

    assert wait_for(lambda: status_of(system, case_id) == "routed")
    history = httpx.get(f"{system.referral_api.url}/v1/referrals/{case_id}", headers=system.headers("police")).json()["history"]
    assert "E2E Adult Service" in history[-1]["reason"]


def test_a_case_without_provider_is_unroutable_until_one_is_added(system):
    system.gateway.start()
    system.referral_api.start()
    response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=youth_referral(), headers=system.headers("police"))
    case_id = response.json()["id"]
    assert wait_for(lambda: status_of(system, case_id) == "unroutable")

    youth_provider = {**ADULT_PROVIDER, "name": "E2E Youth Service", "pathways": ["youth_community_resolution"]}
    httpx.post(f"{system.gateway.url}/v1/admin/providers", json=youth_provider, headers=system.headers("admin"))
    assert wait_for(lambda: status_of(system, case_id) == "routed")


def test_referrals_wait_while_the_gateway_is_down_and_flow_when_it_is_up(system):
    system.referral_api.start()
    case_ids = []
    for _ in range(20):
        response = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"))
        assert response.status_code == 201
        case_ids.append(response.json()["id"])
    assert {status_of(system, case_id) for case_id in case_ids} == {"awaiting_routing"}

    system.gateway.start()
    httpx.post(f"{system.gateway.url}/v1/admin/providers", json=ADULT_PROVIDER, headers=system.headers("admin"))
    assert wait_for(lambda: {status_of(system, c) for c in case_ids} == {"routed"}, timeout=30), (
        sorted(status_of(system, c) for c in case_ids)
    )


def test_clients_made_and_revoked_with_the_cli_are_honoured(system):
    system.referral_api.start()
    created = cli(system.env, "clients", "create", "--json", "--role", "police", "--force", "hampshire", "--name", "CLI police")
    assert created.returncode == 0, created.stderr
    issued = json.loads(created.stdout)
    headers = {"Authorization": f"Bearer {issued['api_key']}"}
    assert httpx.get(f"{system.referral_api.url}/v1/referrals", headers=headers).status_code == 200

    listed = json.loads(cli(system.env, "clients", "list", "--json").stdout)
    assert {"client_id": issued["client_id"], "role": "police", "force": "hampshire", "revoked": False}.items() <= next(
        c for c in listed if c["client_id"] == issued["client_id"]
    ).items()
    assert issued["api_key"] not in json.dumps(listed)

    revoked = cli(system.env, "clients", "revoke", issued["client_id"])
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(f"{system.referral_api.url}/v1/referrals", headers=headers).status_code == 401


def test_the_cli_refuses_a_police_client_without_a_force(system):
    result = cli(system.env, "clients", "create", "--role", "police", "--name", "no force")
    assert result.returncode == 2
    assert "force" in result.stderr
