from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from diversion_common.webhooks.schemas import AttemptPublic
from provider_gateway.deliveries.tables import DeliveryStatus


class DeliveryPublic(BaseModel):
    id: str = Field(description="The webhook-id, the same on every try.")
    case_id: uuid.UUID
    provider_id: uuid.UUID
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next, while pending.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryPublic):
    attempts_log: list[AttemptPublic]


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None


class PulledReferral(BaseModel):
    """A referral waiting for a pull-mode provider: the same message a webhook would carry."""

    webhook_id: str
    case_id: uuid.UUID
    message: dict[str, Any]


class PulledReferrals(BaseModel):
    items: list[PulledReferral]
