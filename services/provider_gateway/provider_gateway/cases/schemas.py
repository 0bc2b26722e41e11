from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

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

    view: Literal["referral"]
    case_id: uuid.UUID
    status: GatewayCaseStatus = Field(description="Where routing has it: routed (waiting for your answer), accepted...")
    case_status: CaseStatus | None = Field(description="The case's status, as referral_api decided it.")
    case_version: int
    programme: ProgrammeSummary | None
    referral: dict[str, Any] | None = Field(
        description="The referral: the person's details. None once the case has ended: the gateway keeps no copy after that."
    )
    reported: list[ReportedEvent] = Field(description="The events you sent about it, in the order they happened.")


class EndedForYou(StrEnum):
    withdrawn = "withdrawn"  # the police withdrew the referral while it was with you
    rejected = "rejected"  # you rejected it
    reassigned = "reassigned"  # it was taken from you before you answered (you were disabled)


class ProviderCaseEnded(BaseModel):
    """A case that was withdrawn or is no longer with you: only that it ended for you, and why.

    A shape of its own, with no place for the referral, the programme or what was reported,
    so no one's details can reach a provider the case has left."""

    view: Literal["ended"]
    case_id: uuid.UUID
    status: EndedForYou = Field(
        description="withdrawn: the police withdrew the referral while it was with you; rejected: you rejected it; "
        "reassigned: it was taken from you before you answered, when you were disabled."
    )


ProviderCase = Annotated[ProviderCaseView | ProviderCaseEnded, Field(discriminator="view")]
