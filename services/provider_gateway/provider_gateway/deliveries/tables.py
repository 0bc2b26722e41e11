"""The gateway's delivery tables: the shared columns (diversion_common.webhooks) plus the provider."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import ClassVar

from sqlalchemy import Index
from sqlmodel import Field

from diversion_common.webhooks.tables import AttemptFields, CircuitFields, DeliveryFields, DeliveryTables
from diversion_common.webhooks.tables import DeliveryStatus as SharedDeliveryStatus
from provider_gateway.db import GatewayTable


# The shared states (diversion_common.webhooks.tables.DeliveryStatus: pending, delivered, dead),
# and those only a provider's deliveries have: awaiting_pull (a pull-mode provider has not
# fetched it yet), acknowledged (it confirmed it has it), cancelled (the case was withdrawn or
# re-routed before delivery). Made from the shared enum, so its states are written once.
DeliveryStatus = StrEnum(  # type: ignore[misc]
    "DeliveryStatus",
    {**{state.name: state.value for state in SharedDeliveryStatus}, "awaiting_pull": "awaiting_pull",
     "acknowledged": "acknowledged", "cancelled": "cancelled"},
)


class Delivery(DeliveryFields, GatewayTable, table=True):
    """One message to one provider. Its id is the ``webhook-id``, the same on every try."""

    __tablename__ = "gateway_deliveries"
    __table_args__ = (Index("ix_gateway_deliveries_due", "status", "next_attempt_at"),)
    endpoint_column: ClassVar[str] = "provider_id"

    case_id: uuid.UUID = Field(index=True)
    provider_id: uuid.UUID = Field(index=True)


class DeliveryAttempt(AttemptFields, GatewayTable, table=True):
    """Every try: when, what came back, how long it took."""

    __tablename__ = "gateway_delivery_attempts"


class ProviderCircuit(CircuitFields, GatewayTable, table=True):
    """A provider's recent failures, for the circuit breaker."""

    __tablename__ = "gateway_provider_circuits"
    endpoint_column: ClassVar[str] = "provider_id"

    provider_id: uuid.UUID = Field(primary_key=True)


GATEWAY_DELIVERIES = DeliveryTables(delivery=Delivery, attempt=DeliveryAttempt, circuit=ProviderCircuit)
