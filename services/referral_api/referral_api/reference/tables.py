"""The scheme's reference data (docs/DOMAIN.md, "Reference data"): forces, their districts, and
the magistrates' courts that hear each district's adults. Seeded with the scheme's defaults by
migration 0013; changed by the administrator (reference/routes.py, `diversion-link reference`).

Nothing is deleted: cases, clients and breach requests keep the codes they were given, so a
force, district or court that is no longer used is *retired* (refused on new referrals and
assignments, still shown with its name).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from diversion_common.database import utcnow
from diversion_common.reference import REFERENCE_CODE_LENGTH
from referral_api.db import ReferralTable

TIMESTAMP = DateTime(timezone=True)
NAME_LENGTH = 100


class Force(ReferralTable, table=True):
    __tablename__ = "referral_forces"

    code: str = Field(primary_key=True, max_length=REFERENCE_CODE_LENGTH)
    name: str = Field(max_length=NAME_LENGTH)
    retired_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class Court(ReferralTable, table=True):
    """A magistrates' court; its code is stored on court clients and breach requests."""

    __tablename__ = "referral_courts"

    code: str = Field(primary_key=True, max_length=REFERENCE_CODE_LENGTH)
    name: str = Field(max_length=NAME_LENGTH)
    retired_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class District(ReferralTable, table=True):
    """A district of a force: a referral's encounter names one; its court hears the district's adults'
    breach requests; its population gives per-1,000 rates in reports."""

    __tablename__ = "referral_districts"

    code: str = Field(primary_key=True, max_length=REFERENCE_CODE_LENGTH)
    name: str = Field(max_length=NAME_LENGTH)
    force: str = Field(foreign_key="referral_forces.code", max_length=REFERENCE_CODE_LENGTH, index=True)
    population: int = Field(ge=0)
    court: str = Field(foreign_key="referral_courts.code", max_length=REFERENCE_CODE_LENGTH)
    retired_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
