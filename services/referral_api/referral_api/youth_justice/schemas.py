from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from diversion_common.contracts import Note
from referral_api.cases.schemas import CaseDetail, CasePublic


class YjuDecision(StrEnum):
    divert = "divert"  # go ahead with the community resolution
    decline = "decline"  # the traditional pathway instead


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: YjuDecision
    note: Note | None = None


class YjuCaseDetail(CaseDetail):
    """A young person's case as the Youth Justice Unit needs it to decide."""

    previous_diversions: int
    referral: dict[str, Any]


class YjuCasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None
