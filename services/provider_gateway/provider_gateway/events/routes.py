"""Providers' signed events about the cases routed to them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request
from sqlmodel import Session

from diversion_common.problems import problem_responses
from provider_gateway.auth import ProviderSystem
from provider_gateway.db import get_session
from provider_gateway.events import service
from provider_gateway.events.schemas import EventReceipt, ProviderEvent

router = APIRouter(prefix="/v1/provider/events", tags=["provider"])
DbSession = Annotated[Session, Depends(get_session)]


async def raw_body(request: Request) -> bytes:
    # The signature covers the exact bytes sent, not the parsed event.
    return await request.body()


@router.post(
    "",
    response_model=EventReceipt,
    summary="Accept or reject a referral (signed with your secret, Standard Webhooks)",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    openapi_extra={
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string", **limits}, "description": description}
            for name, limits, description in (
                # The id is kept to recognise repeats: an empty one or one over 100 characters is refused (401).
                ("webhook-id", {"minLength": 1, "maxLength": 100}, "Unique per event; a repeat is answered as a duplicate."),
                ("webhook-timestamp", {}, "Unix seconds; at most five minutes from our clock."),
                ("webhook-signature", {}, "`v1,<base64 HMAC-SHA256>` over `id.timestamp.body` with your `whsec_` secret."),
            )
        ]
    },
)
def receive_event(
    event: Annotated[ProviderEvent, Body()],
    provider: ProviderSystem,
    body: Annotated[bytes, Depends(raw_body)],
    request: Request,
    session: DbSession,
) -> EventReceipt:
    assert provider.provider_id is not None
    webhook_id = service.verified_webhook_id(session, provider.provider_id, dict(request.headers), body)
    return service.receive_event(session, provider.provider_id, webhook_id, event)
