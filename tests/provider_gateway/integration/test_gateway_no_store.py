"""A provider's referrals and an administrator's case views tell caches not to keep them."""

from __future__ import annotations

import uuid

from diversion_common.credentials import Role
from support.gateway_flows import register_provider, route_a_case


def test_provider_and_admin_case_views_carry_no_store(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    headers = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    case_id = route_a_case(gateway, referral_service)
    for response in (
        gateway.get("/v1/provider/referrals", headers=headers),
        gateway.get(f"/v1/provider/referrals/{case_id}", headers=headers),
        gateway.post(f"/v1/provider/referrals/{case_id}/acknowledge", headers=headers),
        gateway.get("/v1/admin/cases", headers=admin),
        gateway.get(f"/v1/admin/cases/{case_id}/routing", headers=admin),
        gateway.get("/v1/admin/providers", headers=admin),
    ):
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store", response.request.url
