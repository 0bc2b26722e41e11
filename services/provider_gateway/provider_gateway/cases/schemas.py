from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from diversion_common.contracts import CaseStatus, Pathway, ProgrammeSummary

from provider_gateway.cases.tables import GatewayCaseStatus


class RoutingDecisionPublic(BaseModel):
    provider_id: uuid.UUID | None
    reason: str
    at: datetime


class GatewayCaseSummary(BaseModel):
    """What the admin sees of a case: routing facts, no personal data."""

    case_id: uuid.UUID
    pathway: Pathway
    district: str
    status: GatewayCaseStatus
    case_status: CaseStatus | None = Field(description="referral_api's status of the case, mirrored.")
    provider_id: uuid.UUID | None
    updated_at: datetime


class GatewayCaseRouting(GatewayCaseSummary):
    decisions: list[RoutingDecisionPublic]


class GatewayCasePage(BaseModel):
    items: list[GatewayCaseSummary]
    next_cursor: str | None


class ReportedEvent(BaseModel):
    webhook_id: str
    event_type: str
    occurred_at: datetime
    outcome: str


class ProviderCaseView(BaseModel):
    """A case as the provider it is routed to sees it: the referral, what it reported, the progress."""

    case_id: uuid.UUID
    status: GatewayCaseStatus = Field(description="Where routing has it: routed (waiting for your answer), accepted...")
    case_status: CaseStatus | None = Field(description="The case's status, as referral_api decided it.")
    case_version: int
    programme: ProgrammeSummary | None
    referral: dict[str, Any]
    reported: list[ReportedEvent] = Field(description="The events you sent about it, in the order they happened.")
