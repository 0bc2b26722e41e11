"""Events providers send us, in the Standard Webhooks shape: a type and its data."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from provider_gateway.cases.tables import GatewayCaseStatus

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class RejectionReason(StrEnum):
    out_of_area = "out_of_area"
    no_capacity = "no_capacity"
    not_suitable = "not_suitable"
    other = "other"


class AcceptedData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID


class RejectedData(BaseModel):
    model_config = ConfigDict(extra="forbid")
    case_id: uuid.UUID
    reason: RejectionReason
    note: Note | None = None


class ReferralAccepted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["referral.accepted"]
    data: AcceptedData


class ReferralRejected(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["referral.rejected"]
    data: RejectedData


ProviderEvent = Annotated[ReferralAccepted | ReferralRejected, Field(discriminator="type")]


class EventReceipt(BaseModel):
    webhook_id: str
    duplicate: bool
    case_status: GatewayCaseStatus
