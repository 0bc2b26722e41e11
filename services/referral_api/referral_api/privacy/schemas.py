"""The subject access export: what referral_api holds about one person."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from diversion_common.contracts import PersonText
from diversion_common.wire_types import Date


_BY_PERSON = ["given_name", "family_name", "date_of_birth"]


class SubjectAccessRequest(BaseModel):
    """Who the export is about: a case, or a person by name and date of birth (as the referral gave them)."""

    # The document says what the validator below checks: one case id alone, or the three together.
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [{"required": ["case_id"], "maxProperties": 1}, {"required": _BY_PERSON, "maxProperties": len(_BY_PERSON)}]
        },
    )

    case_id: uuid.UUID | SkipJsonSchema[None] = Field(default=None, description="One case: the export covers it alone.")
    given_name: PersonText | SkipJsonSchema[None] = None
    family_name: PersonText | SkipJsonSchema[None] = None
    date_of_birth: Date | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one_way_to_find_them(self) -> SubjectAccessRequest:
        person = (self.given_name, self.family_name, self.date_of_birth)
        if self.case_id is not None and any(value is not None for value in person):
            raise ValueError("give either case_id or given_name, family_name and date_of_birth, not both")
        if self.case_id is None and any(value is None for value in person):
            raise ValueError("give case_id, or all of given_name, family_name and date_of_birth")
        return self


class HeldFact(BaseModel):
    seq: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    source: str
    source_id: str
    actor_client_id: uuid.UUID | None
    data: dict[str, Any]


class HeldRead(BaseModel):
    client_id: uuid.UUID
    action: str
    request_id: str | None
    at: datetime


class HeldMessage(BaseModel):
    """A message about the case to the provider gateway; its payload until the gateway answered."""

    id: uuid.UUID
    topic: str
    created_at: datetime
    sent_at: datetime | None
    refused_at: datetime | None
    payload: dict[str, Any] | None
    payload_sha256: str | None


class HeldNotification(BaseModel):
    """A notification about the case to a recipient's system (its force's, a court's or a YJU's); its payload until delivered."""

    id: str
    recipient: str
    event_type: str
    status: str
    created_at: datetime
    delivered_at: datetime | None
    payload: dict[str, Any] | None
    payload_sha256: str | None


class HeldCase(BaseModel):
    id: uuid.UUID
    force: str
    police_reference: str
    status: str
    version: int
    pathway: str
    district: str
    encounter_at: datetime
    previous_diversions: int
    age_at_encounter: int | None
    age_band: str | None
    sex: str
    ethnicity: str
    out_of_hours_wanted: bool
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    personal_data_erased_at: datetime | None = Field(description="When retention left the case a content-free record.")
    referral: dict[str, Any] | None = Field(description="The referral as the police sent it; None once erased.")
    facts: list[HeldFact] = Field(description="The case's log, every fact as stored.")
    reads: list[HeldRead] = Field(description="Every read of the case (this export included), by which client.")
    messages: list[HeldMessage]
    notifications: list[HeldNotification]


class SubjectAccessExport(BaseModel):
    exported_at: datetime
    matched_by: Literal["case_id", "name_and_date_of_birth"]
    cases: list[HeldCase] = Field(description="Every case held about the person; none is an answer too.")
    gateway: str = Field(
        description="Where the rest is: the provider gateway holds its own copy, exported by its "
        "POST /v1/admin/subject-access with these case ids."
    )
