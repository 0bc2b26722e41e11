from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from diversion_common.contracts import CaseStatus, Note, Pathway
from referral_api.cases.schemas import CasePublic, HistoryEntry


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
    contact preferences. The person's details are null once an ended case's personal
    data has been erased.
    """

    id: uuid.UUID
    police_reference: str
    force: str
    district: str
    pathway: Pathway
    status: CaseStatus
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


class YjuCasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None
