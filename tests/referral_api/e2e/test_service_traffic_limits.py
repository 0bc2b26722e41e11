"""The traffic between the two services is never throttled as a client's.

The gateway forwards each provider's event to referral_api's internal inbox under its
service key, from the same address as anyone else on its host. Counted as a client's, that
key ran out at referral_api's per-client limit (1,200 a minute by default): past it every
provider event answered 202 and each later event on the case queued behind the first.
"""

from __future__ import annotations

import time
import uuid

import httpx
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.messaging.tables import OutboxMessage as GatewayOutbox
from referral_api.cases.tables import Case
from support.credentials import bearer, issue_key
from support.provider_events import event
from support.gateway_flows import signed_event
from support.processes import start_together
from support.referrals import adult_referral
from support.two_services import build_system

LIMITS = {"REFERRAL_API_RATE_LIMIT_PER_CLIENT": "5/minute", "REFERRAL_API_RATE_LIMIT_PER_ADDRESS": "8/minute"}


def test_provider_events_are_decided_at_once_past_the_clients_limits_while_a_client_is_still_limited(fresh_database, tmp_path):
    gateway_db, referral_db = fresh_database("provider_gateway"), fresh_database("referral_api")
    system = build_system(referral_db, gateway_db, tmp_path, {
        **LIMITS, "REFERRAL_API_RELAY_POLL_SECONDS": "0.2", "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
    })
    try:
        start_together(system.gateway, system.referral_api)
        gateway = httpx.Client(base_url=system.gateway.url, timeout=30)
        created = gateway.post("/v1/admin/providers", headers=system.headers("admin"), json={
            "name": "Limits provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "limits@provider.example",
        })
        assert created.status_code == 201, created.text
        secret, provider_id = created.json()["signing_secret"], uuid.UUID(created.json()["id"])
        engine = make_engine(gateway_db)
        provider = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=provider_id))
        engine.dispose()

        police = httpx.Client(base_url=system.referral_api.url, headers=system.headers("police"), timeout=30)
        case_id = police.post("/v1/referrals", json=adult_referral()).json()["id"]
        # Routed, referral_api told so, and the gateway holding referral_api's answer to that message
        # (read from the databases: the police system's reads count against it). Until the gateway
        # has the answer, an event on the case waits its turn behind the message (202).
        deadline = time.monotonic() + 30
        referral_engine, gateway_engine = make_engine(referral_db), make_engine(gateway_db)
        while True:
            with Session(referral_engine) as session, Session(gateway_engine) as gateway_session:
                routed = session.get(Case, uuid.UUID(case_id)).status == "routed"
                unanswered = gateway_session.scalar(
                    select(func.count()).select_from(GatewayOutbox).where(
                        GatewayOutbox.aggregate_id == uuid.UUID(case_id), GatewayOutbox.sent_at.is_(None), GatewayOutbox.refused_at.is_(None)
                    )
                )
                if routed and not unanswered:
                    break
            assert time.monotonic() < deadline, "the case was never routed"
            time.sleep(0.1)
        referral_engine.dispose()
        gateway_engine.dispose()

        def send(body: dict) -> httpx.Response:
            raw, headers = signed_event(secret, body)
            return gateway.post("/v1/provider/events", content=raw, headers={**headers, **provider})

        answers = [send(event("referral.accepted", case_id)).status_code]
        answers += [send(event("contact.attempted", case_id, method="phone", outcome="no_answer")).status_code for _ in range(12)]
        # Each decided by referral_api within its call: none kept for later (202), none refused.
        assert answers == [200] * 13

        # The clients' limits are in force all the same: the police system is stopped at its 5 a minute.
        statuses = [police.get(f"/v1/referrals/{case_id}").status_code for _ in range(6)]
        assert 429 in statuses
    finally:
        system.stop()
