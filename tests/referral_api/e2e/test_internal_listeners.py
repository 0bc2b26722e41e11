"""Both services as real processes with their internal inboxes on listeners of their own
(as `diversion-link serve` and docker/compose.yaml run them): the relays go there, and the
public ports answer /internal/ with 404."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from support.processes import free_port, wait_for
from support.referrals import adult_referral
from support.two_services import System, build_system


@pytest.fixture
def separated(fresh_database, tmp_path) -> Iterator[System]:
    referral_inbox, gateway_inbox = free_port(), free_port()
    system = build_system(
        fresh_database("referral_api"),
        fresh_database("provider_gateway"),
        tmp_path,
        {
            "REFERRAL_API_RELAY_POLL_SECONDS": "0.2",
            "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
            "REFERRAL_API_INTERNAL_PORT": str(referral_inbox),
            "PROVIDER_GATEWAY_INTERNAL_PORT": str(gateway_inbox),
            "REFERRAL_API_GATEWAY_URL": f"http://127.0.0.1:{gateway_inbox}",
            "PROVIDER_GATEWAY_REFERRAL_API_URL": f"http://127.0.0.1:{referral_inbox}",
        },
    )
    yield system
    system.stop()


def test_the_relays_use_the_internal_listeners_and_the_public_ports_refuse_internal(separated):
    system = separated
    system.gateway.start()
    system.referral_api.start()
    provider = {"name": "Listener Test Service", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
                "delivery_mode": "pull", "contact_email": "intake@provider.example"}
    assert httpx.post(f"{system.gateway.url}/v1/admin/providers", json=provider, headers=system.headers("admin")).status_code == 201

    created = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"))
    assert created.status_code == 201
    case_url = f"{system.referral_api.url}/v1/referrals/{created.json()['id']}"
    # There and back: referral_api's relay to the gateway's inbox, the gateway's back to referral_api's.
    assert wait_for(lambda: httpx.get(case_url, headers=system.headers("police")).json()["status"] == "routed")

    for service in (system.referral_api, system.gateway):
        response = httpx.post(f"{service.url}/internal/v1/messages", json={}, headers={"Authorization": "Bearer dl_x_y"})
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"


def test_an_unknown_path_is_a_404_problem_before_any_key_and_a_known_one_still_needs_a_key(separated):
    system = separated
    system.gateway.start()
    system.referral_api.start()
    listeners = {
        "referral_api": (system.referral_api.url, f"http://127.0.0.1:{system.env['REFERRAL_API_INTERNAL_PORT']}", "/v1/referrals"),
        "provider_gateway": (system.gateway.url, f"http://127.0.0.1:{system.env['PROVIDER_GATEWAY_INTERNAL_PORT']}", "/v1/provider/referrals"),
    }
    for name, (public, internal, known) in listeners.items():
        for unknown in (f"{public}/v1/no-such-thing", f"{public}/v2/referrals", f"{internal}/internal/v1/no-such-thing"):
            for method in ("GET", "POST"):
                for headers in ({}, {"Authorization": "Bearer dl_x_y"}):
                    response = httpx.request(method, unknown, headers=headers)
                    assert response.status_code == 404, (name, method, unknown, headers, response.text)
                    assert response.headers["content-type"] == "application/problem+json"
                    assert response.json()["status"] == 404
        # Known paths, without a key: still a 401, on both listeners.
        assert httpx.get(f"{public}{known}").status_code == 401, name
        assert httpx.post(f"{internal}/internal/v1/messages", json={}).status_code == 401, name
        # A trailing slash is a path a route serves (it redirects there once a key is given).
        assert httpx.get(f"{public}{known}/").status_code == 401, name
