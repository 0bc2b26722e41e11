"""referral_api: police referrals in, case status and history out."""

from __future__ import annotations

from fastapi import FastAPI

from diversion_common.messaging import Sender
from diversion_common.metrics import add_database_metrics
from diversion_common.secrets_at_rest import requiring_keys
from diversion_common.service_app import create_service_app, engine_and_relay_lifespan
from diversion_common.settings import settings_from_environment
from diversion_common.webhooks.worker import BackgroundWorker
from referral_api.audit.routes import router as audit_router
from referral_api.audit.tables import AuditCase, AuditRecord
from referral_api.breaches.routes import router as breaches_router
from referral_api.breaches.scheduler import BreachScheduler
from referral_api.cases.routes import router as cases_router
from referral_api.clients.tables import Client
from referral_api.config import SECRETS_KEYS, Settings
from referral_api.messaging.routes import admin_router as messages_admin_router
from referral_api.messaging.routes import router as messaging_router
from referral_api.messaging.tables import OutboxMessage
from referral_api.metrics import database_probes
from referral_api.callbacks.routes import callbacks_router
from referral_api.callbacks.routes import court_callbacks_router, yju_callbacks_router
from referral_api.callbacks.routes import deliveries_router as police_deliveries_router
from referral_api.callbacks.worker import callback_worker
from referral_api.privacy.retention import daily_retention
from referral_api.privacy.routes import router as privacy_router
from referral_api.reference.routes import admin_router as reference_admin_router
from referral_api.reference.routes import router as reference_router
from referral_api.youth_justice.routes import router as youth_justice_router


def create_app(settings: Settings | None = None, peer_sender: Sender | None = None) -> FastAPI:
    # From the environment (a real process): a bad setting stops it here, in one line naming it.
    settings = settings or settings_from_environment(Settings, SECRETS_KEYS)
    app = create_service_app(
        name="referral_api",
        title="Diversion Link referral API",
        description="Police systems refer people found in possession of drugs; the case's status and history live here.",
        # Refuses to start without its keys: signing secrets are encrypted at rest with them.
        lifespan=requiring_keys(SECRETS_KEYS, settings.secrets_keys, engine_and_relay_lifespan(
            settings.database_url,
            OutboxMessage,
            peer_url=settings.gateway_url,
            peer_api_key=settings.gateway_api_key,
            poll_seconds=settings.relay_poll_seconds,
            peer_sender=peer_sender,
            # Notifies police systems of status changes; on by default, as nothing else sends them.
            background=lambda engine: [
                *([BackgroundWorker(callback_worker(engine, settings.worker_settings()))] if settings.run_delivery_worker else []),
                *([BreachScheduler(engine, settings.breach_check_seconds)] if settings.run_breach_scheduler else []),
                *([daily_retention(engine, settings)] if settings.run_retention_scheduler else []),
            ],
        )),
        max_body_bytes=settings.max_body_bytes,
        log_level=settings.log_level,
        audit_tables=(AuditRecord, AuditCase),
        client_table=Client,
        abuse_limits=settings,
        internal_listener=settings.internal_listener(),
    )
    app.state.settings = settings
    add_database_metrics(app, *database_probes(settings.worker_settings().circuit))  # read at each scrape of /metrics
    app.include_router(cases_router)
    app.include_router(youth_justice_router)
    app.include_router(breaches_router)
    app.include_router(messaging_router)
    app.include_router(messages_admin_router)
    app.include_router(callbacks_router)
    app.include_router(court_callbacks_router)
    app.include_router(yju_callbacks_router)
    app.include_router(police_deliveries_router)
    app.include_router(privacy_router)
    app.include_router(reference_router)
    app.include_router(reference_admin_router)
    app.include_router(audit_router)
    return app
