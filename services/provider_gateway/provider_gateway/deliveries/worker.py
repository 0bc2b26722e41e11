"""The gateway's delivery worker: diversion_common.webhooks' worker, sending to providers.

A provider is usable when it is in webhook mode, with a URL and a secret in force;
deliveries to any other wait (and follow it if it changes mode). A disabled one is
sent only withdrawal notices (no personal data; they tell it to stop contacting the
person): everything else of its was cancelled when it was disabled.
Runs inside the gateway's web process, or as `diversion-link gateway-worker`
processes (several at once on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlmodel import Session
import structlog

from diversion_common.webhooks import worker as webhooks
from diversion_common.webhooks.worker import BackgroundWorker, Endpoint, WorkerSettings  # noqa: F401 -- the gateway's names for them
from provider_gateway.deliveries.service import REFERRAL_WITHDRAWN
from provider_gateway.deliveries.tables import GATEWAY_DELIVERIES
from provider_gateway.providers.secrets import secrets_in_force
from provider_gateway.providers.tables import Provider

log = structlog.get_logger("diversion.provider_gateway.worker")
_DISABLED_PROVIDER_IS_SENT = frozenset({REFERRAL_WITHDRAWN})


def usable_providers(session: Session, now: datetime) -> list[Endpoint]:
    providers = list(
        session.scalars(
            select(Provider).where(
                Provider.delivery_mode == "webhook",
                Provider.webhook_url.is_not(None),  # type: ignore[union-attr]
            )
        )
    )
    keys = secrets_in_force(session, [p.id for p in providers], now)
    return [
        Endpoint(
            id=p.id, url=p.webhook_url, secrets=tuple(k.secret for k in keys[p.id]),  # type: ignore[arg-type]
            event_types=None if p.active else _DISABLED_PROVIDER_IS_SENT,
        )
        for p in providers
        if keys.get(p.id)
    ]


class DeliveryWorker(webhooks.DeliveryWorker):
    def __init__(self, engine: Engine, settings: WorkerSettings | None = None) -> None:
        super().__init__(engine, GATEWAY_DELIVERIES, usable_providers, settings, user_agent="DiversionLink-Gateway/1", log=log)


def run_forever(engine: Engine, settings: WorkerSettings, heartbeat_file: Path | None = None) -> None:
    """Entry point of a standalone worker process; SIGTERM or SIGINT stops it after in-flight tries.
    Each pass's heartbeat goes to ``heartbeat_file`` when given (its container's health check).
    No commit in this process wakes it: it looks for new deliveries every ``poll_seconds``."""
    worker = DeliveryWorker(engine, replace(settings, idle_seconds=min(settings.idle_seconds, settings.poll_seconds)))
    worker.heartbeat.file = heartbeat_file
    webhooks.run_forever(worker)
