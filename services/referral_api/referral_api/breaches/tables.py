"""Breach requests: a projection of the breach facts on each case's log, for listing and filtering.

The log holds the truth (the evidence is frozen in the breach.raised fact); this row is
rewritten from the case's fold in the same transaction as every fact about the request.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index
from sqlmodel import Field

from diversion_common.database import utcnow
from referral_api.db import ReferralTable

TIMESTAMP = DateTime(timezone=True)


class BreachRequestRow(ReferralTable, table=True):
    __tablename__ = "referral_breach_requests"
    __table_args__ = (
        # One index per listing (breaches/service.py list_requests), each in its page's order, with
        # and without the status filter: a page reads its rows off the index, however many years
        # of requests the table holds. The court's and the YJU's from their receipt:
        Index("ix_referral_breach_requests_court", "court", "submitted_at", "id"),
        Index("ix_referral_breach_requests_court_status", "court", "status", "submitted_at", "id"),
        Index("ix_referral_breach_requests_force", "force", "addressee", "submitted_at", "id"),
        Index("ix_referral_breach_requests_force_status", "force", "addressee", "status", "submitted_at", "id"),
        # The police's, from their raising:
        Index("ix_referral_breach_requests_raised", "force", "raised_at", "id"),
        Index("ix_referral_breach_requests_raised_status", "force", "status", "raised_at", "id"),
    )

    id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(sa_column=Column(ForeignKey("referral_cases.id"), nullable=False, index=True))
    force: str = Field(max_length=60)  # the referring force: its officer reviews, its YJU hears young people's
    addressee: str = Field(max_length=10)  # court | yju
    court: str | None = Field(default=None, max_length=60)
    rule: str = Field(max_length=40)
    status: str = Field(max_length=30, index=True)
    raised_at: datetime = Field(sa_type=TIMESTAMP)  # type: ignore[call-overload]
    review_due_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    submitted_at: datetime | None = Field(default=None, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    version: int = 1
