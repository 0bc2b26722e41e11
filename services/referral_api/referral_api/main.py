"""referral_api: police referrals in, case status and history out."""

from __future__ import annotations

from fastapi import FastAPI

from diversion_common.service_app import create_service_app, engine_and_relay_lifespan
from referral_api.cases.routes import router as cases_router
from referral_api.config import Settings
from referral_api.messaging.routes import router as messaging_router
from referral_api.messaging.tables import OutboxMessage
from referral_api.youth_justice.routes import router as youth_justice_router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = create_service_app(
        name="referral_api",
        title="Diversion Link referral API",
        description="Police systems refer people found in possession of drugs; the case's status and history live here.",
        lifespan=engine_and_relay_lifespan(
            settings.database_url,
            OutboxMessage,
            peer_url=settings.gateway_url,
            peer_api_key=settings.gateway_api_key,
            poll_seconds=settings.relay_poll_seconds,
        ),
        max_body_bytes=settings.max_body_bytes,
        log_level=settings.log_level,
    )
    app.state.settings = settings
    app.include_router(cases_router)
    app.include_router(youth_justice_router)
    app.include_router(messaging_router)
    return app
