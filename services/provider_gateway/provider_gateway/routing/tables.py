from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from diversion_common.database import utcnow
from provider_gateway.db import GatewayTable


class RoutingDecision(GatewayTable, table=True):
    """Every routing decision, with its reason, for the admin to audit."""

    __tablename__ = "gateway_routing_decisions"

    id: int | None = Field(default=None, primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    provider_id: uuid.UUID | None = None
    reason: str = Field(max_length=300)
    at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
