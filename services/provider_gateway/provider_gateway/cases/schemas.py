from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from provider_gateway.cases.tables import GatewayCaseStatus


class RoutingDecisionPublic(BaseModel):
    provider_id: uuid.UUID | None
    reason: str
    at: datetime


class GatewayCaseSummary(BaseModel):
    """What the admin sees of a case: routing facts, no personal data."""

    case_id: uuid.UUID
    pathway: str
    district: str
    status: GatewayCaseStatus
    provider_id: uuid.UUID | None
    updated_at: datetime


class GatewayCaseRouting(GatewayCaseSummary):
    decisions: list[RoutingDecisionPublic]


class GatewayCasePage(BaseModel):
    items: list[GatewayCaseSummary]
    next_cursor: str | None


class ProviderCaseView(BaseModel):
    """A case as the provider it is routed to sees it."""

    case_id: uuid.UUID
    status: GatewayCaseStatus
    referral: dict[str, Any]
