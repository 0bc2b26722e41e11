"""Both services in one process, each on its own fresh database, their relays linked.

Each app's outbox relay sends to the other app's real internal inbox (through its
ASGI app, over httpx), so a referral is routed, a provider's event is decided by
referral_api and the gateway's mirror follows, all without sockets. End-to-end
tests (tests/<service>/e2e) do the same with real processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from diversion_common.messaging import DeliveryFailed, MessageEnvelope, client_sender
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.config import Settings as GatewaySettings
from provider_gateway.main import create_app as create_gateway
from provider_gateway.messaging.tables import OutboxMessage as GatewayOutbox
from referral_api.clients.tables import Client as ReferralClient
from referral_api.config import Settings as ReferralSettings
from referral_api.main import create_app as create_referral_api
from support.credentials import bearer, issue_key
from support.processes import wait_for


@dataclass
class LinkedServices:
    api: TestClient
    gateway: TestClient
    referral_engine: Engine
    gateway_engine: Engine
    police: dict[str, str]
    admin: dict[str, str]
    clients: dict[str, TestClient] = field(default_factory=dict)

    def provider_key(self, provider_id: str) -> dict[str, str]:
        return bearer(issue_key(self.gateway_engine, GatewayClient, Role.provider, provider_id=uuid.UUID(provider_id)))

    def case(self, case_id: str) -> dict[str, Any]:
        response = self.api.get(f"/v1/referrals/{case_id}", headers=self.police)
        assert response.status_code == 200, response.text
        return response.json()

    def gateway_has_answers_for(self, case_id: str) -> bool:
        """The gateway's relay has recorded referral_api's answer to every message about the case.
        Only then is the case's next event sent at once: referral_api can show a message applied
        a moment before the gateway records its answer, and an event in that moment waits (202)."""
        with Session(self.gateway_engine) as session:
            return session.scalars(
                select(GatewayOutbox.id).where(
                    GatewayOutbox.aggregate_id == uuid.UUID(case_id), GatewayOutbox.sent_at.is_(None), GatewayOutbox.refused_at.is_(None)  # type: ignore[union-attr,attr-defined]
                ).limit(1)
            ).first() is None

    def wait_for_status(self, case_id: str, status: str) -> dict[str, Any]:
        assert wait_for(lambda: self.case(case_id)["status"] == status), self.case(case_id)["status"]
        return self.case(case_id)


def _linked_sender(clients: dict[str, TestClient], name: str, api_key: str):
    def send(envelopes: list[MessageEnvelope]):
        client = clients.get(name)
        if client is None:  # the other app is still starting
            raise DeliveryFailed("not linked yet")
        return client_sender(client, api_key)(envelopes)

    return send


@pytest.fixture
def linked(fresh_database) -> Iterator[LinkedServices]:
    referral_db, gateway_db = fresh_database("referral_api"), fresh_database("provider_gateway")
    referral_engine, gateway_engine = make_engine(referral_db), make_engine(gateway_db)
    to_gateway_key = issue_key(gateway_engine, GatewayClient, Role.service)
    to_referral_key = issue_key(referral_engine, ReferralClient, Role.service)
    clients: dict[str, TestClient] = {}
    api_app = create_referral_api(
        ReferralSettings(
            database_url=referral_db, gateway_api_key=None, relay_poll_seconds=0.05, run_delivery_worker=False, allow_loopback_webhooks=True,
            run_breach_scheduler=False,  # the tests run the checks themselves, with their own clock
        ),
        peer_sender=_linked_sender(clients, "gateway", to_gateway_key),
    )
    gateway_app = create_gateway(
        GatewaySettings(
            database_url=gateway_db, referral_api_key=None, relay_poll_seconds=0.05, run_delivery_worker=False, allow_loopback_webhooks=True
        ),
        peer_sender=_linked_sender(clients, "api", to_referral_key),
    )
    with TestClient(api_app, raise_server_exceptions=False) as api, TestClient(gateway_app, raise_server_exceptions=False) as gateway:
        clients.update(api=api, gateway=gateway)
        try:
            yield LinkedServices(
                api=api,
                gateway=gateway,
                referral_engine=referral_engine,
                gateway_engine=gateway_engine,
                police=bearer(issue_key(referral_engine, ReferralClient, Role.police, force="thames-valley")),
                admin=bearer(issue_key(gateway_engine, GatewayClient, Role.admin)),
                clients=clients,
            )
        finally:
            # Unlink, then stop both relays while both apps still serve: a send under way finishes,
            # and none starts into an app that is shutting down (each client's portal waits for
            # every call made into it, so a call into a closing app could hold its exit for ever).
            clients.clear()
            for app in (api_app, gateway_app):
                if app.state.relay is not None:
                    app.state.relay.stop()
    referral_engine.dispose()
    gateway_engine.dispose()

