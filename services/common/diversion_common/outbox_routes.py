"""The administrator's view of a service's outbox: what waits, what went, what the peer refused.

A message the other service refused for good is kept with its reason (never
silently marked done); this is where an administrator finds it. Payloads are
not shown: they can hold personal data.
"""


import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.credentials import Principal
from diversion_common.database import as_utc
from diversion_common.messaging import OutboxFields
from diversion_common.problems import problem_responses


class OutboxState(StrEnum):
    waiting = "waiting"  # not yet taken by the peer (maybe retrying)
    sent = "sent"
    refused = "refused"  # the peer refused it for good: see last_error


class OutboxMessagePublic(BaseModel):
    id: uuid.UUID
    topic: str
    aggregate_id: uuid.UUID
    state: OutboxState
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    refused_at: datetime | None


class OutboxPage(BaseModel):
    items: list[OutboxMessagePublic]
    next_cursor: str | None


def _state(row: OutboxFields) -> OutboxState:
    if row.refused_at is not None:
        return OutboxState.refused
    return OutboxState.sent if row.sent_at is not None else OutboxState.waiting


def _public(row: OutboxFields) -> OutboxMessagePublic:
    return OutboxMessagePublic(
        id=row.id, topic=row.topic, aggregate_id=row.aggregate_id, state=_state(row), attempts=row.attempts,
        last_error=row.last_error, created_at=as_utc(row.created_at),
        sent_at=as_utc(row.sent_at) if row.sent_at else None, refused_at=as_utc(row.refused_at) if row.refused_at else None,
    )


def outbox_admin_router(
    *, peer: str, admin: Callable[..., Principal], get_session: Callable[..., AsyncIterator[Session]], outbox_table: type[OutboxFields]
) -> APIRouter:
    router = APIRouter(prefix="/v1/admin/messages", tags=["operations"])
    table: Any = outbox_table

    @router.get(
        "",
        response_model=OutboxPage,
        summary=f"Messages to {peer}: e.g. those it refused, with why, or those still waiting",
        responses=problem_responses(401, 403, 422),
    )
    def list_messages(
        _admin: Annotated[Principal, Depends(admin)],
        session: Annotated[Session, Depends(get_session, scope="function")],
        state: OutboxState | None = None,
        cursor: pagination.CursorQuery = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
    ) -> OutboxPage:
        query = select(table)
        if state is OutboxState.refused:
            query = query.where(table.refused_at.is_not(None))
        elif state is OutboxState.sent:
            query = query.where(table.sent_at.is_not(None))
        elif state is OutboxState.waiting:
            query = query.where(table.sent_at.is_(None), table.refused_at.is_(None))
        page = pagination.keyset_page(
            session, query, at=table.created_at, key=table.id, cursor=cursor, limit=limit,
            key_from_text=pagination.uuid_key, key_to_text=pagination.uuid_text,
        )
        return OutboxPage(items=[_public(row) for row in page.rows], next_cursor=page.next_cursor)

    return router
