"""The internal inbox endpoint each service exposes to the other."""

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlmodel import Session

from diversion_common.audit.context import touched
from diversion_common.credentials import Principal
from diversion_common.messaging import (
    BatchReceipts,
    InboxFields,
    MessageBatch,
    MessageEnvelope,
    MessageReceipt,
    TopicHandler,
    receive_batch,
    receive_message,
)
from diversion_common.problems import problem_responses


def inbox_router(
    *,
    sender: str,
    caller: Callable[..., Principal],
    get_session: Callable[..., AsyncIterator[Session]],
    inbox_table: type[InboxFields],
    handlers: dict[str, TopicHandler],
) -> APIRouter:
    router = APIRouter(prefix="/internal/v1", tags=["internal"])

    @router.post(
        "/messages",
        response_model=MessageReceipt,
        response_model_exclude_none=True,
        summary=f"Receive a message from {sender} (applied at most once)",
        description="A message that cannot be applied, for good, is a 409 naming why; nothing is written.",
        responses=problem_responses(400, 401, 403, 409, 413, 415, 422),
    )
    def receive(
        envelope: MessageEnvelope,
        _caller: Annotated[Principal, Depends(caller)],
        session: Annotated[Session, Depends(get_session, scope="function")],
    ) -> Any:
        touched([envelope.aggregate_id])
        return receive_message(session, inbox_table, envelope, handlers)

    @router.post(
        "/messages/batch",
        response_model=BatchReceipts,
        summary=f"Receive up to 100 messages from {sender}; each is applied, or refused, on its own",
        responses=problem_responses(400, 401, 403, 413, 415, 422),
    )
    def receive_many(
        batch: MessageBatch,
        _caller: Annotated[Principal, Depends(caller)],
        session: Annotated[Session, Depends(get_session, scope="function")],
    ) -> Any:
        touched(message.aggregate_id for message in batch.messages)
        return receive_batch(session, inbox_table, batch, handlers)

    return router
