from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import DateTime, UniqueConstraint
from sqlmodel import Field

from diversion_common.database import utcnow
from provider_gateway.db import GatewayTable

TIMESTAMP = DateTime(timezone=True)


class EventOutcome(StrEnum):
    pending = "pending"  # kept, waiting for referral_api (it was unreachable)
    applied = "applied"  # recorded on the case's log
    refused = "refused"  # referral_api's rules refused it, for the reason kept here


class ProviderEventReceipt(GatewayTable, table=True):
    """Each event a provider sent, by its webhook-id: a repeat gets the first answer and
    changes nothing; a deferred event's outcome is kept here once referral_api decides."""

    __tablename__ = "gateway_provider_events"
    __table_args__ = (UniqueConstraint("message_id", name="uq_gateway_provider_events_message_id"),)

    provider_id: uuid.UUID = Field(primary_key=True)
    webhook_id: str = Field(primary_key=True, max_length=100)
    # The id of the message that carries it to referral_api (derived from the two above).
    message_id: uuid.UUID
    event_type: str = Field(max_length=60)
    case_id: uuid.UUID = Field(index=True)
    occurred_at: datetime = Field(sa_type=TIMESTAMP)  # type: ignore[call-overload]
    received_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    outcome: str = Field(default=EventOutcome.pending.value, max_length=20, index=True)
    decided_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    case_status: str | None = Field(default=None, max_length=40)
    case_version: int | None = None
    refusal_code: str | None = Field(default=None, max_length=40)
    refusal_detail: str | None = Field(default=None, max_length=300)
    # referral_api said the refusal is for now (the event waits for another fact, e.g. its booking):
    # a repeat of this webhook-id is tried again rather than answered with the refusal.
    refusal_retryable: bool = False
