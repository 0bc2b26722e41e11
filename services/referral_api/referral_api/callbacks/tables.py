"""Recipients' callback endpoints (a force's, a court's or a YJU's system), their signing
secrets, and the deliveries to them.

The delivery columns are the shared ones (diversion_common.webhooks.tables); the endpoint
is the recipient, so every table here is keyed by its recipient (callbacks/recipients.py:
a force code, ``court:<court>`` or ``yju:<force>``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import DateTime, Index
from sqlmodel import Field

from diversion_common.database import utcnow
from diversion_common.webhooks.tables import (
    AttemptFields,
    CircuitFields,
    DeliveryFields,
    DeliveryTables,
    ENDPOINT_URL_LENGTH,
    SigningSecretFields,
)
from diversion_common.secrets_at_rest import encrypted_field
from referral_api.config import SECRETS_KEYS
from referral_api.db import ReferralTable

TIMESTAMP = DateTime(timezone=True)


class CallbackEndpoint(ReferralTable, table=True):
    """Where a recipient's system (a force's; a court's or YJU's: callbacks/recipients.py) is
    told of changes. Inactive: nothing new is sent, pending ones wait."""

    __tablename__ = "referral_callback_endpoints"

    recipient: str = Field(primary_key=True, max_length=60)
    url: str = Field(max_length=ENDPOINT_URL_LENGTH)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class CallbackSecret(SigningSecretFields, ReferralTable, table=True):
    """A recipient's signing secret; two overlap during a rotation."""

    __tablename__ = "referral_callback_secrets"
    endpoint_column: ClassVar[str] = "recipient"

    recipient: str = Field(index=True, max_length=60)
    secret: str = encrypted_field(SECRETS_KEYS)  # encrypted at rest under REFERRAL_API_SECRETS_KEYS


class CallbackDelivery(DeliveryFields, ReferralTable, table=True):
    """One message for one recipient's system. Its id is the ``webhook-id``, the same on every try."""

    __tablename__ = "referral_deliveries"
    __table_args__ = (Index("ix_referral_deliveries_due", "status", "next_attempt_at"),)
    endpoint_column: ClassVar[str] = "recipient"

    case_id: uuid.UUID = Field(index=True)
    recipient: str = Field(index=True, max_length=60)


class CallbackDeliveryAttempt(AttemptFields, ReferralTable, table=True):
    """Every try: when, what came back, how long it took."""

    __tablename__ = "referral_delivery_attempts"


class CallbackCircuit(CircuitFields, ReferralTable, table=True):
    """A recipient's endpoint's recent failures, for the circuit breaker."""

    __tablename__ = "referral_endpoint_circuits"
    endpoint_column: ClassVar[str] = "recipient"

    recipient: str = Field(primary_key=True, max_length=60)


CALLBACK_DELIVERIES = DeliveryTables(delivery=CallbackDelivery, attempt=CallbackDeliveryAttempt, circuit=CallbackCircuit)
