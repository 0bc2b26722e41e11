"""A path no route serves is a 404 problem on both services, before any key is looked at;
a path a route serves still needs a key (401). The internal listeners, which only a real
process opens, are covered in tests/referral_api/e2e/test_internal_listeners.py."""

from __future__ import annotations

import pytest

from support.linked_services import LinkedServices

UNKNOWN = ["/v1/no-such-thing", "/v2/referrals", "/v1/referrals/not/a/route", "/admin", "/.env"]
KNOWN = {"api": ["/v1/referrals", "/v1/breach-requests"], "gateway": ["/v1/provider/referrals", "/v1/admin/providers"]}


@pytest.mark.parametrize("service", ["api", "gateway"])
def test_an_unknown_path_is_a_404_problem_with_a_key_or_without(linked: LinkedServices, service: str) -> None:
    client = getattr(linked, service)
    for path in UNKNOWN:
        for method in ("GET", "POST", "DELETE"):
            for headers in ({}, {"Authorization": "Bearer dl_x_y"}, linked.admin):
                response = client.request(method, path, headers=headers)
                assert response.status_code == 404, (method, path, response.status_code)
                assert response.headers["content-type"] == "application/problem+json"
                assert response.json()["status"] == 404


@pytest.mark.parametrize("service", ["api", "gateway"])
def test_a_path_a_route_serves_still_needs_a_key(linked: LinkedServices, service: str) -> None:
    client = getattr(linked, service)
    for path in KNOWN[service]:
        assert client.get(path).status_code == 401, path
        assert client.get(f"{path}/").status_code == 401, path  # a trailing slash is redirected, after the key
        assert client.request("PATCH", path).status_code == 401, path  # the method is judged after the key
    assert client.get("/health").status_code == 200
