"""What the Youth Justice Unit sees of a young person's case, and what it may send.

Its view has one model per phase (``referral_api.visibility``; the table is in
``service.YJU_CASE_VIEWS``): while the unit may still act on the case (its decision is pending, or
the diverted case goes on and may come back to it as a breach request) it sees who the young
person is and the guardian; once the case has ended (declined, withdrawn, completed...) it sees
only the record of its decision: ids, dates, status, reason.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from diversion_common.contracts import TERMINAL_STATUSES, CaseStatus, Note, Pathway
from referral_api.cases.schemas import CasePublic, HistoryEntry

# The statuses of a case the unit may still act on; then those of one that has ended.
LiveStatus = Literal[tuple(s for s in CaseStatus if s not in TERMINAL_STATUSES)]  # type: ignore[valid-type]
EndedStatus = Literal[tuple(s for s in CaseStatus if s in TERMINAL_STATUSES)]  # type: ignore[valid-type]


class YjuDecision(StrEnum):
    divert = "divert"  # go ahead with the community resolution
    decline = "decline"  # the traditional pathway instead


class DecisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: YjuDecision
    note: Note | None = None


class YjuAddress(BaseModel):
    line1: str
    line2: str | None = None
    town: str
    postcode: str


class YjuYoungPerson(BaseModel):
    """Who the young person is, to find them in the unit's own records; nothing more."""

    given_name: str
    family_name: str
    date_of_birth: date
    address: YjuAddress


class YjuGuardian(BaseModel):
    name: str
    relationship: str
    phone: str | None = None
    email: str | None = None


class YjuDrug(BaseModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    name: str
    drug_class: str = Field(alias="class")


class YjuChecks(BaseModel):
    identity_confirmed: bool
    pnc_checked: bool
    niche_checked: bool
    guardian_contacted: bool


class YjuCaseDetail(BaseModel):
    """A young person's case as the Youth Justice Unit needs it to decide, and no more.

    Not the whole referral: no officer, no body-worn video reference, no ethnicity, no
    contact preferences. Shown while the case goes on; once it has ended, ``YjuCaseRecord``.
    """

    id: uuid.UUID
    police_reference: str
    force: str
    district: str
    pathway: Pathway
    status: LiveStatus
    version: int
    created_at: datetime
    updated_at: datetime
    history: list[HistoryEntry]
    previous_diversions: int = Field(description="Why the case came to the unit: earlier drug diversions.")
    encounter_at: datetime
    age_at_encounter: int | None
    drugs: list[YjuDrug] | None
    checks: YjuChecks | None
    young_person: YjuYoungPerson | None
    guardian: YjuGuardian | None


class StatusChange(BaseModel):
    status: CaseStatus
    event: str = Field(description="The kind of fact that changed the status, e.g. `yju.decided`.")
    at: datetime


class YjuCaseRecord(BaseModel):
    """A case that has ended, as the unit keeps seeing it: the record of its decision. Never the
    young person, the guardian, the offence or anyone's notes (free text may name them)."""

    id: uuid.UUID
    police_reference: str
    force: str
    pathway: Pathway
    status: EndedStatus
    version: int
    created_at: datetime
    updated_at: datetime
    decision: YjuDecision | None = Field(description="The unit's decision; null if the case ended before it decided.")
    decided_at: datetime | None
    reason: str | None = Field(description="Why it ended, as a code: the police's withdrawal reason, or the provider's closure reason.")
    history: list[StatusChange]


YjuCaseView = Annotated[YjuCaseDetail | YjuCaseRecord, Field(discriminator="status")]


class YjuCasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None
