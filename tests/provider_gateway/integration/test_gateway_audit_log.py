"""Every call to the gateway is in its append-only audit log: providers' pulls and reads, our
other service's messages, refusals; an admin reads it, and nothing changes it."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from diversion_common.credentials import Role
from support.gateway_flows import register_provider, route_a_case


def audit(gateway, admin, **params) -> list[dict]:
    response = gateway.get("/v1/admin/audit", params={"limit": 100, **params}, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_a_providers_reads_of_a_case_are_attributed_to_it(gateway, admin, referral_service, issue_gateway_key):
    provider = register_provider(gateway, admin)
    provider_headers = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    case_id = route_a_case(gateway, referral_service)
    providers_id = str(uuid.uuid4())
    pulled = gateway.get("/v1/provider/referrals", headers={**provider_headers, "X-Request-ID": providers_id})
    read = gateway.get(f"/v1/provider/referrals/{case_id}", headers=provider_headers)
    refused = gateway.get(f"/v1/provider/referrals/{uuid.uuid4()}", headers=provider_headers)

    about_case = audit(gateway, admin, case_id=case_id)
    assert [(i["role"], i["method"], i["route"], i["status"]) for i in about_case] == [
        ("service", "POST", "/internal/v1/messages", 200),
        ("provider", "GET", "/v1/provider/referrals", 200),
        ("provider", "GET", "/v1/provider/referrals/{case_id}", 200),
    ]
    assert [i["correlation_id"] for i in about_case[1:]] == [pulled.headers["X-Request-ID"], read.headers["X-Request-ID"]]
    assert about_case[1]["correlation_id"] == providers_id
    [not_found] = audit(gateway, admin, status=404)
    assert not_found["correlation_id"] == refused.headers["X-Request-ID"]
    assert not_found["client_id"] == about_case[1]["client_id"]


def test_an_unauthenticated_call_is_recorded_without_a_client(gateway, admin):
    gateway.get("/v1/admin/providers", headers={"Authorization": "Bearer dl_nonsense"})
    [refused] = audit(gateway, admin, status=401)
    assert (refused["client_id"], refused["role"], refused["route"]) == (None, None, "/v1/admin/providers")


def test_no_api_and_no_statement_changes_the_log(gateway, admin, gateway_engine):
    gateway.get("/v1/admin/providers", headers=admin)
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert gateway.request(method, "/v1/admin/audit", headers=admin).status_code == 405
    for statement in ("UPDATE gateway_audit_log SET status = 500", "DELETE FROM gateway_audit_log"):
        with Session(gateway_engine) as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
            session.commit()
