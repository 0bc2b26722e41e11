"""The gateway's part of a subject access export: its copy of the cases named."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SubjectAccessRequest(BaseModel):
    """The cases referral_api's export found for the person."""

    model_config = ConfigDict(extra="forbid")

    case_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


class HeldDecision(BaseModel):
    provider_id: uuid.UUID | None
    reason: str
    at: datetime


class HeldDelivery(BaseModel):
    """A message to a provider; its payload until delivered or fetched, then only its digest."""

    id: str
    provider_id: uuid.UUID
    event_type: str
    status: str
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] | None
    payload_sha256: str | None


class HeldEvent(BaseModel):
    """An event a provider reported about the case (its free text went on to referral_api)."""

    provider_id: uuid.UUID
    webhook_id: str
    event_type: str
    occurred_at: datetime
    received_at: datetime
    outcome: str
    refusal_code: str | None
    refusal_detail: str | None


class HeldMessage(BaseModel):
    id: uuid.UUID
    topic: str
    created_at: datetime
    sent_at: datetime | None
    refused_at: datetime | None
    payload: dict[str, Any] | None
    payload_sha256: str | None


class HeldGatewayCase(BaseModel):
    case_id: uuid.UUID
    pathway: str
    district: str
    status: str
    case_status: str | None
    provider_id: uuid.UUID | None
    out_of_hours_wanted: bool
    accepted_at: datetime | None
    declined_by: list[str]
    created_at: datetime
    updated_at: datetime
    personal_data_erased_at: datetime | None
    provider_payload: dict[str, Any] | None = Field(description="The referral as providers get it; None once the case ended.")
    decisions: list[HeldDecision]
    deliveries: list[HeldDelivery]
    events: list[HeldEvent]
    messages: list[HeldMessage]


class GatewaySubjectAccessExport(BaseModel):
    exported_at: datetime
    cases: list[HeldGatewayCase]
    not_held: list[uuid.UUID] = Field(description="Case ids the gateway holds nothing about (never sent here).")
