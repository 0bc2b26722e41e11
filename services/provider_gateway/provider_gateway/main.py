"""provider_gateway: routes each case to its treatment provider."""

from __future__ import annotations

from fastapi import FastAPI

from diversion_common.messaging import Sender
from diversion_common.metrics import add_database_metrics
from diversion_common.secrets_at_rest import requiring_keys
from diversion_common.service_app import create_service_app, engine_and_relay_lifespan
from diversion_common.settings import settings_from_environment
from provider_gateway.audit.routes import router as audit_router
from provider_gateway.audit.tables import AuditCase, AuditRecord
from provider_gateway.cases.routes import admin_router as cases_admin_router
from provider_gateway.cases.routes import provider_router as cases_provider_router
from provider_gateway.clients.tables import Client
from provider_gateway.config import SECRETS_KEYS, Settings
from provider_gateway.deliveries.routes import admin_router as deliveries_admin_router
from provider_gateway.deliveries.routes import provider_router as deliveries_provider_router
from provider_gateway.events.routes import admin_router as events_admin_router
from provider_gateway.events.routes import router as events_router
from provider_gateway.messaging.answers import record_answer
from provider_gateway.deliveries.worker import BackgroundWorker, DeliveryWorker
from provider_gateway.messaging.routes import admin_router as messages_admin_router
from provider_gateway.messaging.routes import router as messaging_router
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.metrics import database_probes
from provider_gateway.privacy.retention import daily_retention
from provider_gateway.privacy.routes import router as privacy_router
from provider_gateway.providers.routes import router as providers_router


def create_app(settings: Settings | None = None, peer_sender: Sender | None = None) -> FastAPI:
    # From the environment (a real process): a bad setting stops it here, in one line naming it.
    settings = settings or settings_from_environment(Settings, SECRETS_KEYS)
    app = create_service_app(
        name="provider_gateway",
        title="Diversion Link provider gateway",
        description="Routes each case to the right treatment provider and receives the providers' events.",
        # Refuses to start without its keys: signing secrets are encrypted at rest with them.
        lifespan=requiring_keys(SECRETS_KEYS, settings.secrets_keys, engine_and_relay_lifespan(
            settings.database_url,
            OutboxMessage,
            peer_url=settings.referral_api_url,
            peer_api_key=settings.referral_api_key,
            poll_seconds=settings.relay_poll_seconds,
            peer_sender=peer_sender,
            on_outcome=record_answer,
            background=lambda engine: [
                *([BackgroundWorker(DeliveryWorker(engine, settings.worker_settings()))] if settings.run_delivery_worker else []),
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
    app.include_router(providers_router)
    app.include_router(cases_admin_router)
    app.include_router(deliveries_admin_router)
    app.include_router(deliveries_provider_router)
    app.include_router(cases_provider_router)
    app.include_router(events_router)
    app.include_router(events_admin_router)
    app.include_router(messaging_router)
    app.include_router(messages_admin_router)
    app.include_router(privacy_router)
    app.include_router(audit_router)
    return app
