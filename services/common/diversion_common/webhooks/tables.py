"""Columns every service's delivery tables share, as mixins.

A service makes its tables from these (``class Delivery(DeliveryFields, ServiceTable,
table=True)``) and adds the column that names the endpoint: the gateway's
``provider_id``, referral_api's ``recipient``. ``endpoint_column`` tells the shared
code which column that is, so no service has to rename its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime
from sqlmodel import Field, SQLModel

from diversion_common.database import utcnow
from diversion_common.messaging import REQUEST_ID_LENGTH
from diversion_common.secrets_at_rest import encrypted_field

TIMESTAMP = DateTime(timezone=True)
# Lengths the request fields that fill these columns are held to (diversion_common/text_limits.py).
DELIVERY_ID_LENGTH = 40  # "msg_" and 32 hex digits: the webhook-id we send
ENDPOINT_URL_LENGTH = 500  # a provider's webhook_url, a force's callback url


class DeliveryStatus(StrEnum):
    """The states the shared machinery moves a delivery through (a service may have more)."""

    pending = "pending"  # waiting for its next try (or being tried: next_attempt_at is then its lease)
    delivered = "delivered"  # the endpoint answered 2xx
    dead = "dead"  # the schedule is spent, or the endpoint refused it outright


class EndpointKeyed:
    """A table with a column naming the endpoint; ``endpoint_column`` is its name."""

    endpoint_column: ClassVar[str]

    @classmethod
    def endpoint(cls) -> Any:
        """The endpoint column, for queries."""
        return getattr(cls, cls.endpoint_column)

    def endpoint_id(self) -> Any:
        return getattr(self, self.endpoint_column)


class DeliveryFields(EndpointKeyed, SQLModel):
    """One message to one endpoint. Its id is the ``webhook-id``, the same on every try."""

    id: str = Field(primary_key=True, max_length=DELIVERY_ID_LENGTH)
    event_type: str = Field(max_length=60)
    # Erased once delivered (or fetched), its digest kept: the SHA-256 of the exact body sent
    # (diversion_common/erasure.py). While pending it is what the worker sends.
    payload: dict[str, Any] | None = Field(sa_type=JSON(none_as_null=True))  # type: ignore[call-overload]
    payload_sha256: str | None = Field(default=None, max_length=64)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    last_error: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    delivered_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    # The SHA-256 of the URL it was last sent to (a URL may carry a token: not kept in clear).
    # A redelivery goes there or nowhere: a changed URL does not get old messages (service.py).
    sent_to_sha256: str | None = Field(default=None, max_length=64)
    # The X-Request-ID of the call that caused it, sent with it (not signed: the body is) and on
    # the worker's log lines about it; none when a scheduled job caused it.
    request_id: str | None = Field(default=None, max_length=REQUEST_ID_LENGTH)


class AttemptFields(SQLModel):
    """Every try: when, what came back, how long it took."""

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(index=True, max_length=DELIVERY_ID_LENGTH)
    attempt: int
    started_at: datetime = Field(sa_type=TIMESTAMP)  # type: ignore[call-overload]
    status_code: int | None = None
    latency_ms: float
    error: str | None = Field(default=None, max_length=300)
    outcome: str = Field(max_length=20)


class CircuitFields(EndpointKeyed, SQLModel):
    """An endpoint's recent failures, for the circuit breaker; the endpoint column is the key."""

    consecutive_failures: int = 0
    paused_until: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class SigningSecretFields(EndpointKeyed, SQLModel):
    """An endpoint's signing secret. Several are valid at once while a rotation overlaps.

    We must sign with it, so it is stored encrypted (diversion_common/secrets_at_rest.py), not
    hashed. Each table redeclares ``secret = encrypted_field("<SERVICE>_SECRETS_KEYS")`` to name
    its service's keys; one that does not cannot store a secret at all.
    """

    id: int | None = Field(default=None, primary_key=True)
    secret: str = encrypted_field("a table's own *_SECRETS_KEYS setting")
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    expires_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]


@dataclass(frozen=True)
class DeliveryTables:
    """One service's three delivery tables, as the shared service functions and worker need them."""

    delivery: type[DeliveryFields]
    attempt: type[AttemptFields]
    circuit: type[CircuitFields]
