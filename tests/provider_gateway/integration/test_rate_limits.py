"""The gateway's limits on abuse (docs/SECURITY.md, item 7); referral_api's tests cover the rest."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from diversion_common.credentials import Role
from diversion_common.problems import PROBLEM_TYPE_BASE
from provider_gateway.config import Settings
from provider_gateway.main import create_app

# The limits are counted in memory, before any query: one database is enough.
pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize("body", [b'{"type": "referral.accepted", "case_id": ', b'{"type": 1}'], ids=["broken JSON", "invalid event"])
def test_an_unauthenticated_event_is_401_whatever_its_body(gateway, body: bytes):
    for headers in ({}, {"Authorization": f"Bearer dl_{uuid.uuid4().hex}_guess"}):
        response = gateway.post("/v1/provider/events", content=body, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 401, response.text
        assert "errors" not in response.json()


def test_a_provider_over_its_limit_gets_429_with_retry_after(gateway_db, issue_gateway_key):
    app = create_app(Settings(database_url=gateway_db, referral_api_key=None, run_delivery_worker=False, rate_limit_per_client="3/minute"))
    provider = issue_gateway_key(Role.provider, provider_id=uuid.uuid4())
    admin = issue_gateway_key(Role.admin)
    with TestClient(app, raise_server_exceptions=False) as gateway:
        assert [gateway.get("/v1/provider/referrals", headers=provider).status_code for _ in range(3)] == [200] * 3
        refused = gateway.get("/v1/provider/referrals", headers=provider)
        assert refused.status_code == 429
        assert refused.json()["type"] == PROBLEM_TYPE_BASE + "too-many-requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert gateway.get("/v1/admin/providers", headers=admin).status_code == 200
