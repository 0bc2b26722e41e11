"""Providers' signed events about the cases routed to them, and the administrator's view of them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from sqlmodel import Session

from diversion_common.audit.context import touched
from diversion_common.contracts import WEBHOOK_ID_LENGTH, ProviderEvent
from diversion_common.pagination import CursorQuery
from diversion_common.problems import problem_responses
from provider_gateway.auth import Administrator, ProviderSystem
from provider_gateway.db import get_session
from provider_gateway.events import service
from provider_gateway.events.schemas import EventReceipt, EventReceiptPage
from provider_gateway.events.tables import EventOutcome

router = APIRouter(prefix="/v1/provider/events", tags=["provider"])
admin_router = APIRouter(prefix="/v1/admin/provider-events", tags=["provider events"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]
WebhookId = Annotated[str, Path(max_length=WEBHOOK_ID_LENGTH, pattern=r"^[A-Za-z0-9._:-]{1,100}$")]


async def raw_body(request: Request) -> bytes:
    # The signature covers the exact bytes sent, not the parsed event.
    return await request.body()


@router.post(
    "",
    response_model=EventReceipt,
    summary="Report what happened to a case routed to you (signed with your secret, Standard Webhooks)",
    description=(
        "`200`: referral_api recorded the event; `case_status` is the case's status after it. "
        "`202`: the event is kept and will be applied exactly once as soon as referral_api can be "
        "reached; `GET` the receipt's `links.self` for the outcome. A repeated `webhook-id` gets the "
        "first answer (as it stands now) and changes nothing. `409` names why the event cannot apply "
        "(`code`): the case has ended or left you, you already answered the referral, an appointment "
        "that was never booked, an attendance or miss of an appointment that had not started by its "
        "`occurred_at` or starts before the case was accepted, an intervention that is not the case's "
        "pathway's (every rule: the event's schema and docs/BREACHES.md). A later event about the same "
        "appointment corrects the earlier one."
    ),
    responses={
        202: {"model": EventReceipt, "description": "Kept; referral_api will apply it when it can be reached"},
        **problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
    },
    openapi_extra={
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string", **limits}, "description": description}
            for name, limits, description in (
                # The id is kept to recognise repeats and names the receipt: any other spelling is refused (401).
                ("webhook-id", {"pattern": "^[A-Za-z0-9._:-]{1,100}$"}, "Unique per event; a repeat is answered as a duplicate."),
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
    response: Response,
    session: DbSession,
) -> EventReceipt:
    assert provider.provider_id is not None
    touched([event.data.case_id])  # the audit row names the case the event is about
    webhook_id = service.verified_webhook_id(session, provider.provider_id, dict(request.headers), body)
    receipt, duplicate = service.receive_event(session, provider.provider_id, webhook_id, event, request.app.state.relay)
    if receipt.outcome == EventOutcome.refused.value:
        raise service.refusal_problem(receipt)
    if receipt.outcome == EventOutcome.pending.value:
        response.status_code = 202
    response.headers["Location"] = service.receipt_location(webhook_id)
    return service.to_public(receipt, duplicate=duplicate)


@router.get(
    "/{webhook_id}",
    response_model=EventReceipt,
    summary="The outcome of an event you sent, by its webhook-id",
    responses=problem_responses(401, 403, 404, 422),
)
def read_receipt(webhook_id: WebhookId, provider: ProviderSystem, session: DbSession) -> EventReceipt:
    assert provider.provider_id is not None
    return service.read_receipt(session, provider.provider_id, webhook_id)


@admin_router.get(
    "",
    response_model=EventReceiptPage,
    summary="Providers' events, e.g. those still pending or refused, with why",
    responses=problem_responses(401, 403, 422),
)
def list_receipts(
    _admin: Administrator,
    session: DbSession,
    outcome: EventOutcome | None = None,
    provider_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> EventReceiptPage:
    return service.list_receipts(session, outcome=outcome, provider_id=provider_id, cursor=cursor, limit=limit)
