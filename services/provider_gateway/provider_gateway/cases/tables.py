from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field

from diversion_common.database import utcnow
from provider_gateway.db import GatewayTable

TIMESTAMP = DateTime(timezone=True)


class GatewayCaseStatus(StrEnum):
    """Where routing has the case. The case's own status is referral_api's, mirrored in case_status."""

    unroutable = "unroutable"
    routed = "routed"  # sent (or offered) to a provider, waiting for its answer
    accepted = "accepted"  # the provider took the case on
    withdrawn = "withdrawn"
    ended = "ended"  # completed, closed by the provider or declined: no longer an open case of its provider


class GatewayCase(GatewayTable, table=True):
    """A case as the gateway holds it: what routing needs and what the provider will get."""

    __tablename__ = "gateway_cases"

    case_id: uuid.UUID = Field(primary_key=True)
    pathway: str = Field(max_length=40)
    district: str = Field(max_length=60, index=True)
    out_of_hours_wanted: bool
    status: str = Field(max_length=20, index=True)
    provider_id: uuid.UUID | None = Field(default=None, index=True)
    # What the provider is sent: the person's details. Erased once the case has ended
    # (privacy/erasure.py); the gateway needs it only while the case is open.
    provider_payload: dict[str, Any] | None = Field(sa_column=Column(JSON(none_as_null=True), nullable=True))
    personal_data_erased_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    accepted_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    # referral_api's status of the case, mirrored from case.status_changed: applied only when newer.
    case_status: str | None = Field(default=None, max_length=40)
    case_version: int = 0
    programme: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # Providers that rejected the case: routing passes them over.
    declined_by: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
