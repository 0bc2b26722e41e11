"""Disabling a provider: its unanswered cases go on, it is told, and its key only reads.

The cases it had not answered go to the next eligible provider in the transaction
that disables it; a provider that already had such a referral gets a
`referral.withdrawn` notice (`reason: provider_disabled`); the cases it accepted
stay with it. Its key then reads (its cases, the notices) but answers and reports
nothing (403 `provider-disabled`), and it is sent no one's details.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.webhooks.policy import RetryPolicy
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.deliveries.tables import Delivery
from provider_gateway.deliveries.worker import BackgroundWorker, DeliveryWorker, WorkerSettings
from support.fake_provider import FakeProvider
from support.gateway_flows import delivery_for, register_provider, route_a_case
from support.processes import wait_for
from support.provider_events import AT_BOOKING, Provider, event
from support.referrals import adult_referral

# allow_loopback: the fake provider listens on 127.0.0.1, as in a local run.
FAST = WorkerSettings(
    timeout_seconds=0.5, poll_seconds=0.02, retry=RetryPolicy(base_seconds=0.02, cap_seconds=0.1, max_attempts=8), allow_loopback=True
)


def provider(linked, name: str) -> Provider:
    record = register_provider(linked.gateway, linked.admin, name=name)
    return Provider(linked.gateway, record, linked.provider_key(record["id"]))


def routed_case(linked) -> str:
    response = linked.api.post("/v1/referrals", json=adult_referral(), headers=linked.police)
    assert response.status_code == 201, response.text
    linked.wait_for_status(response.json()["id"], "routed")
    return response.json()["id"]


def gateway_case(linked, case_id: str) -> GatewayCase:
    with Session(linked.gateway_engine) as session:
        return session.get(GatewayCase, uuid.UUID(case_id))


def disable(gateway, admin, provider_id: str) -> dict:
    response = gateway.patch(f"/v1/admin/providers/{provider_id}", json={"active": False}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    return response.json()


def pulled(gateway, key: dict[str, str]) -> list[dict]:
    response = gateway.get("/v1/provider/referrals", headers=key)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def deliveries_of(engine, provider_id: str) -> list[Delivery]:
    with Session(engine) as session:
        return list(session.scalars(select(Delivery).where(Delivery.provider_id == uuid.UUID(provider_id)).order_by(Delivery.created_at)))


def test_disabling_sends_its_unanswered_cases_on_tells_it_and_keeps_its_accepted_ones(linked):
    first = provider(linked, "A First Service")
    had_it, never_fetched, accepted = routed_case(linked), routed_case(linked), routed_case(linked)
    second = provider(linked, "B Second Service")  # registered after: the cases stay with the first
    linked.gateway.post(f"/v1/provider/referrals/{had_it}/acknowledge", headers=first.key)
    first.report("referral.accepted", accepted)
    linked.gateway.post(f"/v1/provider/referrals/{accepted}/acknowledge", headers=first.key)

    disable(linked.gateway, linked.admin, first.id)

    for case_id in (had_it, never_fetched):
        assert gateway_case(linked, case_id).provider_id == uuid.UUID(second.id)
        assert gateway_case(linked, case_id).status == "routed"
        routing = linked.gateway.get(f"/v1/admin/cases/{case_id}/routing", headers=linked.admin).json()
        assert routing["decisions"][-1]["reason"].startswith("its provider was disabled; B Second Service")
    assert gateway_case(linked, accepted).provider_id == uuid.UUID(first.id)
    assert gateway_case(linked, accepted).status == "accepted"
    # referral_api follows: the routed cases are now the second provider's.
    assert wait_for(lambda: linked.case(had_it)["version"] == 3 and linked.case(never_fetched)["version"] == 3)
    assert linked.case(had_it)["status"] == "routed"
    assert sorted(item["case_id"] for item in pulled(linked.gateway, second.key)) == sorted([had_it, never_fetched])

    # Only the provider that had the referral is told; its unfetched referral is cancelled, not left to pull.
    [notice] = pulled(linked.gateway, first.key)
    assert notice["message"]["type"] == "referral.withdrawn"
    assert notice["message"]["data"] == {"case_id": had_it, "reason": "provider_disabled"}
    assert [d.status for d in deliveries_of(linked.gateway_engine, first.id) if d.case_id == uuid.UUID(never_fetched)] == ["cancelled"]
    assert linked.gateway.post(f"/v1/provider/referrals/{had_it}/acknowledge", headers=first.key).status_code == 200
    assert pulled(linked.gateway, first.key) == []


def test_a_case_taken_on_by_work_with_the_person_stays_with_a_disabled_provider(linked):
    """A provider that books or calls before it sends referral.accepted has taken the case on (referral_api's
    acceptance is the earlier of the two): the person is in its care, so disabling it does not move them."""
    first = provider(linked, "A First Service")
    called, booked = routed_case(linked), routed_case(linked)
    provider(linked, "B Second Service")
    assert first.report("contact.attempted", called, method="phone", outcome="reached")["case_status"] == "in_programme"
    first.report("appointment.booked", booked, appointment_id="a-1", kind="assessment", starts_at=AT_BOOKING, mode="in_person")

    disable(linked.gateway, linked.admin, first.id)

    for case_id in (called, booked):
        assert gateway_case(linked, case_id).provider_id == uuid.UUID(first.id)
        assert linked.case(case_id)["status"] == "in_programme"
    assert [n["message"]["type"] for n in pulled(linked.gateway, first.key) if n["message"]["type"] == "referral.withdrawn"] == []


def test_a_disabled_providers_key_reads_what_is_its_own_but_answers_and_reports_nothing(linked):
    first = provider(linked, "A First Service")
    waiting, accepted = routed_case(linked), routed_case(linked)
    provider(linked, "B Second Service")
    first.report("referral.accepted", accepted)
    disable(linked.gateway, linked.admin, first.id)
    version = linked.case(accepted)["version"]

    for body in (event("referral.accepted", waiting), event("contact.attempted", accepted, method="phone", outcome="reached")):
        response = first.send(body)
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"].endswith("/provider-disabled")
    assert linked.case(accepted)["version"] == version
    assert gateway_case(linked, waiting).provider_id != uuid.UUID(first.id)

    # The case it accepted is still its own (the person is in its care): it reads it whole.
    view = linked.gateway.get(f"/v1/provider/referrals/{accepted}", headers=first.key).json()
    assert view["view"] == "referral" and view["referral"]["case_id"] == accepted
    # The one taken from it: only that it ended for it.
    taken = linked.gateway.get(f"/v1/provider/referrals/{waiting}", headers=first.key).json()
    assert taken == {"view": "ended", "case_id": waiting, "status": "reassigned"}
    # And it is sent no referral again, even by the administrator.
    [referral] = [d for d in deliveries_of(linked.gateway_engine, first.id) if d.case_id == uuid.UUID(accepted)]
    with Session(linked.gateway_engine) as session:
        row = session.get(Delivery, referral.id)
        row.status = "dead"
        session.commit()
    assert linked.gateway.post(f"/v1/admin/deliveries/{referral.id}/redeliver", headers=linked.admin).status_code == 409


def test_a_case_with_nowhere_else_to_go_is_unroutable_until_the_provider_is_enabled_again(
    gateway, admin, referral_service, issue_gateway_key
):
    only = register_provider(gateway, admin)
    key = issue_gateway_key(Role.provider, provider_id=uuid.UUID(only["id"]))
    case_id = route_a_case(gateway, referral_service)

    disable(gateway, admin, only["id"])
    unroutable = gateway.get("/v1/admin/cases", params={"status": "unroutable"}, headers=admin).json()["items"]
    assert [c["case_id"] for c in unroutable] == [case_id]
    assert pulled(gateway, key) == []  # its referral was cancelled; it never had it, so no notice

    enabled = gateway.patch(f"/v1/admin/providers/{only['id']}", json={"active": True}, headers=admin)
    assert enabled.status_code == 200
    assert [item["case_id"] for item in pulled(gateway, key)] == [case_id]
    assert gateway.get(f"/v1/provider/referrals/{case_id}", headers=key).json()["view"] == "referral"


@pytest.fixture
def webhook_provider() -> Iterator[FakeProvider]:
    fake = FakeProvider().start()
    yield fake
    fake.stop()


def test_a_disabled_webhook_provider_is_sent_its_withdrawal_notices_and_nothing_else(
    gateway, admin, referral_service, gateway_engine, webhook_provider
):
    record = register_provider(gateway, admin, webhook_url=webhook_provider.url)
    webhook_provider.secrets = [record["signing_secret"]]
    delivered = route_a_case(gateway, referral_service)
    worker = BackgroundWorker(DeliveryWorker(gateway_engine, FAST))
    worker.start()
    try:
        assert wait_for(lambda: delivery_for(gateway_engine, delivered).status == "delivered", timeout=10)
    finally:
        worker.stop()
    undelivered = route_a_case(gateway, referral_service)  # pending: no worker runs now

    disable(gateway, admin, record["id"])
    worker = BackgroundWorker(DeliveryWorker(gateway_engine, FAST))
    worker.start()
    try:
        # Nothing of its is left pending for ever: the notice goes, the referral is cancelled.
        assert wait_for(lambda: {d.status for d in deliveries_of(gateway_engine, record["id"])} == {"delivered", "cancelled"}, timeout=10)
    finally:
        worker.stop()
    received = [(r.payload["type"], r.payload["data"]["case_id"]) for r in webhook_provider.received]
    assert received == [("referral.created", delivered), ("referral.withdrawn", delivered)]
    assert webhook_provider.received[-1].verified
    assert webhook_provider.received[-1].payload["data"] == {"case_id": delivered, "reason": "provider_disabled"}
    assert undelivered not in str(webhook_provider.received)


def test_cases_routed_while_a_provider_is_disabled_are_none_of_them_left_with_it(gateway, admin, referral_service, gateway_engine):
    first = register_provider(gateway, admin, name="A First Service")
    register_provider(gateway, admin, name="B Second Service")
    barrier = threading.Barrier(2)
    case_ids: list[str] = []

    def route_many() -> None:
        barrier.wait()
        for _ in range(30):
            case_ids.append(route_a_case(gateway, referral_service))

    def disable_first() -> None:
        barrier.wait()
        disable(gateway, admin, first["id"])

    threads = [threading.Thread(target=route_many), threading.Thread(target=disable_first)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with Session(gateway_engine) as session:
        cases = list(session.scalars(select(GatewayCase).where(GatewayCase.case_id.in_([uuid.UUID(c) for c in case_ids]))))  # type: ignore[attr-defined]
        open_referrals = session.scalars(
            select(Delivery).where(Delivery.provider_id == uuid.UUID(first["id"]), Delivery.status.in_(["pending", "awaiting_pull"]))  # type: ignore[attr-defined]
        ).all()
    assert len(cases) == 30 and {c.status for c in cases} == {"routed"}
    assert not [c for c in cases if str(c.provider_id) == first["id"]]
    assert open_referrals == []
