"""The internal inbox: messages from the provider gateway."""

from typing import Annotated

from fastapi import APIRouter, Depends
from sqlmodel import Session

from diversion_common.messaging import MessageEnvelope, MessageReceipt, receive_message
from diversion_common.problems import problem_responses
from referral_api.auth import GatewayService
from referral_api.db import get_session
from referral_api.messaging.handlers import HANDLERS
from referral_api.messaging.tables import InboxMessage

router = APIRouter(prefix="/internal/v1", tags=["internal"])


@router.post(
    "/messages",
    response_model=MessageReceipt,
    summary="Receive a message from the provider gateway (applied at most once)",
    responses=problem_responses(400, 401, 403, 413, 415, 422),
)
def receive(envelope: MessageEnvelope, _caller: GatewayService, session: Annotated[Session, Depends(get_session)]) -> MessageReceipt:
    return receive_message(session, InboxMessage, envelope, HANDLERS)
