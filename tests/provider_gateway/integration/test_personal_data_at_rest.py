"""The gateway keeps a person's details only while it needs them (issue 16, item 8).

A referral delivered (or fetched) keeps only the digest of what the provider got; a
delivered one redelivered is rebuilt from the case while the case is with that provider;
an ended case's referral is erased; the retention job sweeps what is left of cases ended
longer ago than the period; the administrator exports what the gateway holds about a case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.database import as_utc
from diversion_common.erasure import sha256_of
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.deliveries.tables import Delivery
from provider_gateway.deliveries.worker import BackgroundWorker, DeliveryWorker, WorkerSettings
from provider_gateway.privacy.retention import run_retention
from support.fake_provider import FakeProvider
from support.gateway_flows import delivery_for, register_provider, route_a_case
from support.processes import wait_for

FAST = WorkerSettings(
    timeout_seconds=0.5, poll_seconds=0.02, allow_loopback=True,
    retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8),
    circuit=CircuitPolicy(failure_threshold=50, pause_seconds=0.2),
)


@pytest.fixture
def fake_provider() -> Iterator[FakeProvider]:
    provider = FakeProvider().start()
    yield provider
    provider.stop()


@pytest.fixture
def worker(gateway_engine) -> Iterator[None]:
    running = BackgroundWorker(DeliveryWorker(gateway_engine, FAST))
    running.start()
    yield
    running.stop()


def webhook_provider(gateway, admin, fake: FakeProvider) -> dict:
    provider = register_provider(gateway, admin, webhook_url=fake.url)
    fake.secrets = [provider["signing_secret"]]
    return provider


def case_of(engine, case_id: str) -> GatewayCase:
    with Session(engine) as session:
        case = session.get(GatewayCase, uuid.UUID(case_id))
        assert case is not None
        return case


def deliveries_of(engine, case_id: str) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.scalars(select(Delivery).where(Delivery.case_id == uuid.UUID(case_id)).order_by(Delivery.created_at)))  # type: ignore[arg-type]


def status_changed(gateway, referral_service, case_id: str, status: str, version: int) -> None:
    message = {"id": str(uuid.uuid4()), "topic": "case.status_changed", "aggregate_id": case_id,
               "payload": {"case_id": case_id, "status": status, "version": version, "reason": "charged_instead" if status == "withdrawn" else None},
               "created_at": "2026-11-24T09:00:00Z"}
    assert gateway.post("/internal/v1/messages", json=message, headers=referral_service).status_code == 200


def test_a_delivered_referral_keeps_only_the_digest_of_the_body_the_provider_got(gateway, admin, referral_service, gateway_engine, fake_provider, worker):
    webhook_provider(gateway, admin, fake_provider)
    case_id = route_a_case(gateway, referral_service)

    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    delivery = delivery_for(gateway_engine, case_id)
    [received] = fake_provider.accepted()
    assert received.payload["data"]["subject"]["family_name"] == "Synthetic"
    assert delivery.payload is None
    assert delivery.payload_sha256 == sha256_of(received.payload)  # the exact body signed and sent


def test_a_delivered_referral_redelivered_is_rebuilt_from_the_case_while_it_is_with_the_provider(
    gateway, admin, referral_service, gateway_engine, fake_provider, worker
):
    webhook_provider(gateway, admin, fake_provider)
    case_id = route_a_case(gateway, referral_service)
    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    delivery_id = delivery_for(gateway_engine, case_id).id

    assert gateway.post(f"/v1/admin/deliveries/{delivery_id}/redeliver", headers=admin).status_code == 202
    assert wait_for(lambda: len(fake_provider.accepted()) == 2, timeout=10)

    first, again = fake_provider.accepted()
    assert again.webhook_id == first.webhook_id == delivery_id
    assert again.payload["data"] == first.payload["data"]
    assert wait_for(lambda: delivery_for(gateway_engine, case_id).payload is None, timeout=5)


def test_a_delivered_referral_is_not_rebuilt_once_the_case_has_ended(gateway, admin, referral_service, gateway_engine, fake_provider, worker):
    webhook_provider(gateway, admin, fake_provider)
    case_id = route_a_case(gateway, referral_service)
    assert wait_for(lambda: delivery_for(gateway_engine, case_id).status == "delivered", timeout=10)
    referral = deliveries_of(gateway_engine, case_id)[0]
    status_changed(gateway, referral_service, case_id, "withdrawn", 5)

    response = gateway.post(f"/v1/admin/deliveries/{referral.id}/redeliver", headers=admin)
    assert response.status_code == 409 and response.headers["content-type"] == "application/problem+json"
    assert "Synthetic" not in response.text


def test_a_fetched_referral_keeps_only_its_digest(gateway, admin, referral_service, gateway_engine, issue_gateway_key):
    provider = register_provider(gateway, admin)  # pull mode
    headers = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    case_id = route_a_case(gateway, referral_service)
    [pulled] = gateway.get("/v1/provider/referrals", headers=headers).json()["items"]
    assert pulled["message"]["data"]["subject"]["family_name"] == "Synthetic"

    assert gateway.post(f"/v1/provider/referrals/{case_id}/acknowledge", headers=headers).status_code == 200

    [delivery] = deliveries_of(gateway_engine, case_id)
    assert delivery.status == "acknowledged"
    assert delivery.payload is None and delivery.payload_sha256 == sha256_of(pulled["message"])
    # While the case is open the provider still reads the referral: the gateway's copy is kept for that.
    assert gateway.get(f"/v1/provider/referrals/{case_id}", headers=headers).json()["referral"]["subject"]["family_name"] == "Synthetic"


@pytest.mark.parametrize("ending", ["withdrawn", "completed"])
def test_once_the_case_has_ended_the_gateway_keeps_no_copy_of_the_referral(gateway, admin, referral_service, gateway_engine, issue_gateway_key, ending):
    provider = register_provider(gateway, admin)  # pull mode, never fetched: its referral waits in the gateway
    headers = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    case_id = route_a_case(gateway, referral_service)
    assert case_of(gateway_engine, case_id).provider_payload is not None

    status_changed(gateway, referral_service, case_id, ending, 7)

    case = case_of(gateway_engine, case_id)
    assert case.provider_payload is None and case.personal_data_erased_at is not None
    referral = deliveries_of(gateway_engine, case_id)[0]
    assert referral.event_type == "referral.created" and referral.payload is None and referral.payload_sha256
    view = gateway.get(f"/v1/provider/referrals/{case_id}", headers=headers)
    assert view.status_code == 200 and "Synthetic" not in view.text
    if ending == "completed":
        assert view.json()["referral"] is None and view.json()["case_status"] == "completed"


def test_retention_erases_what_is_left_of_a_case_ended_longer_ago_than_the_period(gateway, admin, referral_service, gateway_engine):
    register_provider(gateway, admin)
    ended = route_a_case(gateway, referral_service)
    still_open = route_a_case(gateway, referral_service)
    status_changed(gateway, referral_service, ended, "completed", 9)
    with Session(gateway_engine) as session:  # as a case ended before the gateway erased on end
        case = session.get(GatewayCase, uuid.UUID(ended))
        case.provider_payload, case.personal_data_erased_at = {"subject": {"family_name": "Synthetic"}}, None
        session.commit()
    ended_at = as_utc(case_of(gateway_engine, ended).updated_at)

    assert run_retention(gateway_engine, retention_days=365, now=ended_at + timedelta(days=364)).cases == 0
    assert case_of(gateway_engine, ended).provider_payload is not None

    dry = run_retention(gateway_engine, retention_days=365, now=ended_at + timedelta(days=366), dry_run=True)
    assert dry.case_ids == [uuid.UUID(ended)]
    assert case_of(gateway_engine, ended).provider_payload is not None  # a dry run changes nothing

    run = run_retention(gateway_engine, retention_days=365, now=ended_at + timedelta(days=366))
    assert run.case_ids == [uuid.UUID(ended)]
    case = case_of(gateway_engine, ended)
    assert case.provider_payload is None and as_utc(case.personal_data_erased_at) == ended_at + timedelta(days=366)
    assert case.status == "ended" and case.district == "reading"  # the content-free record stays
    assert case_of(gateway_engine, still_open).provider_payload is not None  # an open case is never touched
    assert run_retention(gateway_engine, retention_days=365, now=ended_at + timedelta(days=400)).cases == 0


def test_the_administrator_exports_what_the_gateway_holds_about_a_case(gateway, admin, referral_service, gateway_engine, issue_gateway_key):
    provider = register_provider(gateway, admin)
    case_id = route_a_case(gateway, referral_service)
    unknown = str(uuid.uuid4())

    response = gateway.post("/v1/admin/subject-access", json={"case_ids": [case_id, unknown]}, headers=admin)

    assert response.status_code == 200, response.text
    export = response.json()
    [held] = export["cases"]
    assert held["case_id"] == case_id and held["provider_id"] == provider["id"]
    assert held["provider_payload"]["subject"]["family_name"] == "Synthetic"
    assert [d["event_type"] for d in held["deliveries"]] == ["referral.created"]
    assert held["deliveries"][0]["payload"]["data"]["case_id"] == case_id
    assert len(held["decisions"]) == 1 and [m["topic"] for m in held["messages"]] == ["case.routed"]
    assert export["not_held"] == [unknown]

    provider_headers = issue_gateway_key(Role.provider, provider_id=uuid.UUID(provider["id"]))
    assert gateway.post("/v1/admin/subject-access", json={"case_ids": [case_id]}, headers=provider_headers).status_code == 403
    for bad in ({"case_ids": []}, {"case_ids": ["not-a-uuid"]}, {"case_ids": [case_id], "name": "x"}, {}):
        refused = gateway.post("/v1/admin/subject-access", json=bad, headers=admin)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
