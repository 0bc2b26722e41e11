"""referral_api's delivery worker: diversion_common.webhooks' worker, sending to police systems.

A force's callback is usable when it is active and has a secret in force. The
worker runs inside referral_api's web process (``run_delivery_worker``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session
import structlog

from diversion_common.webhooks import worker as webhooks
from diversion_common.webhooks.secrets import secrets_in_force
from diversion_common.webhooks.worker import Endpoint, WorkerSettings
from referral_api.callbacks.tables import CALLBACK_DELIVERIES, CallbackSecret, CallbackEndpoint

log = structlog.get_logger("diversion.referral_api.worker")


def usable_callbacks(session: Session, now: datetime) -> list[Endpoint]:
    callbacks = list(session.scalars(select(CallbackEndpoint).where(CallbackEndpoint.active)))  # type: ignore[arg-type]
    keys = secrets_in_force(session, CallbackSecret, [c.recipient for c in callbacks], now)
    return [Endpoint(id=c.recipient, url=c.url, secrets=tuple(k.secret for k in keys[c.recipient])) for c in callbacks if keys.get(c.recipient)]


def callback_worker(engine: Engine, settings: WorkerSettings | None = None) -> webhooks.DeliveryWorker:
    return webhooks.DeliveryWorker(engine, CALLBACK_DELIVERIES, usable_callbacks, settings, user_agent="DiversionLink-ReferralAPI/1", log=log)
