from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from diversion_common.database import utcnow
from provider_gateway.db import GatewayTable


class ProviderEventReceipt(GatewayTable, table=True):
    """Each event a provider sent, by its webhook-id, so a repeat changes nothing."""

    __tablename__ = "gateway_provider_events"

    provider_id: uuid.UUID = Field(primary_key=True)
    webhook_id: str = Field(primary_key=True, max_length=100)
    event_type: str = Field(max_length=60)
    case_id: uuid.UUID = Field(index=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
