from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlmodel import Field

from diversion_common.database import utcnow
from provider_gateway.db import GatewayTable

TIMESTAMP = DateTime(timezone=True)


class DeliveryStatus(StrEnum):
    pending = "pending"  # waiting for its next try (or being tried: next_attempt_at is then its lease)
    delivered = "delivered"  # the provider's endpoint answered 2xx
    dead = "dead"  # the schedule is spent, or the provider refused it outright
    awaiting_pull = "awaiting_pull"  # a pull-mode provider has not fetched it yet
    acknowledged = "acknowledged"  # a pull-mode provider confirmed it has it
    cancelled = "cancelled"  # the case was withdrawn or re-routed before delivery


class Delivery(GatewayTable, table=True):
    """One message to one provider. Its id is the ``webhook-id``, the same on every try."""

    __tablename__ = "gateway_deliveries"
    __table_args__ = (Index("ix_gateway_deliveries_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=40)
    case_id: uuid.UUID = Field(index=True)
    provider_id: uuid.UUID = Field(index=True)
    event_type: str = Field(max_length=60)
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    delivered_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class DeliveryAttempt(GatewayTable, table=True):
    """Every try: when, what came back, how long it took."""

    __tablename__ = "gateway_delivery_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(index=True, max_length=40)
    attempt: int
    started_at: datetime = Field(sa_type=TIMESTAMP)  # type: ignore[call-overload]
    status_code: int | None = None
    latency_ms: float
    error: str | None = Field(default=None, max_length=300)
    outcome: str = Field(max_length=20)


class ProviderCircuit(GatewayTable, table=True):
    """A provider's recent failures, for the circuit breaker."""

    __tablename__ = "gateway_provider_circuits"

    provider_id: uuid.UUID = Field(primary_key=True)
    consecutive_failures: int = 0
    paused_until: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
