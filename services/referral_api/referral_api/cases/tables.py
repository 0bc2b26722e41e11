"""Cases (the projection of their log), who read them, and the idempotency records of intake."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field

from diversion_common.database import utcnow
from referral_api.db import ReferralTable

TIMESTAMP = DateTime(timezone=True)
POLICE_REFERENCE_LENGTH = 40  # the referral's limit too (cases/schemas.py)
IDEMPOTENCY_KEY_LENGTH = 200  # the Idempotency-Key header's limit too (cases/routes.py)


class Case(ReferralTable, table=True):
    __tablename__ = "referral_cases"
    __table_args__ = (
        UniqueConstraint("force", "police_reference", name="uq_referral_cases_force_reference"),
        Index("ix_referral_cases_force_updated", "force", "updated_at", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    force: str = Field(max_length=60)
    police_reference: str = Field(max_length=POLICE_REFERENCE_LENGTH)
    # The projection of the case's log, written with each fact (case_log/service.py).
    status: str = Field(max_length=40, index=True)
    version: int = 0
    next_deadline_at: datetime | None = Field(default=None, sa_type=TIMESTAMP, index=True)  # type: ignore[call-overload]
    pathway: str = Field(max_length=40)
    district: str = Field(max_length=60)
    encounter_at: datetime = Field(sa_type=TIMESTAMP)  # type: ignore[call-overload]
    previous_diversions: int
    # Reporting facts kept apart from the referral document, so aggregates need no personal data.
    # Once the case's personal data is erased (privacy/retention.py) the exact age goes and only
    # its band stays, beside sex and ethnicity: what reporting on disproportionality needs.
    age_at_encounter: int | None = None
    age_band: str | None = Field(default=None, max_length=10)
    sex: str = Field(max_length=20)
    ethnicity: str = Field(max_length=4)
    out_of_hours_wanted: bool
    # The referral as the police sent it; None once erased, the case then a content-free record.
    referral: dict[str, Any] | None = Field(sa_column=Column(JSON(none_as_null=True), nullable=True))
    personal_data_erased_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    created_by: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class CaseAccess(ReferralTable, table=True):
    """Every read of a case, by which client, so each read is attributable."""

    __tablename__ = "referral_case_access"

    id: int | None = Field(default=None, primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    client_id: uuid.UUID = Field(index=True)
    action: str = Field(max_length=40)
    request_id: str | None = Field(default=None, max_length=128)
    at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class IdempotencyRecord(ReferralTable, table=True):
    """The first answer to a keyed POST, replayed to a retry with the same key and body."""

    __tablename__ = "referral_idempotency"

    client_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(primary_key=True, max_length=IDEMPOTENCY_KEY_LENGTH)
    request_hash: str = Field(max_length=64)
    status_code: int
    response_body: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    case_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
