"""The case log: every fact about a case, append-only, with when it happened and who said so."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, UniqueConstraint
from sqlmodel import Field

from diversion_common.database import utcnow
from referral_api.db import ReferralTable

TIMESTAMP = DateTime(timezone=True)


class CaseFact(ReferralTable, table=True):
    __tablename__ = "referral_case_facts"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_referral_case_facts_case_seq"),
        # A source says each thing once: a repeat (a retried webhook, a re-sent message) is recognised.
        UniqueConstraint("source", "source_id", name="uq_referral_case_facts_source"),
        # The timeline's pages: a case's facts in the order they happened.
        Index("ix_referral_case_facts_case_occurred", "case_id", "occurred_at", "seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: uuid.UUID = Field(sa_column=Column(ForeignKey("referral_cases.id"), nullable=False, index=True))
    seq: int
    kind: str = Field(max_length=60)
    occurred_at: datetime = Field(sa_type=TIMESTAMP)  # type: ignore[call-overload]
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    source: str = Field(max_length=80)
    source_id: str = Field(max_length=140)
    actor_client_id: uuid.UUID | None = None
    # Who recorded it (diversion_common.actors): client:<id>, scheduler, operator:<name>, or the
    # reporting party's source; null on facts recorded before actors were kept.
    actor: str | None = Field(default=None, max_length=120)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class CaseSnapshotRow(ReferralTable, table=True):
    """Each case's folded state (lifecycle.fold.CaseSnapshot as JSON), written with each new fact.

    ``version`` is the number of facts folded into it: a new fact is folded onto the snapshot of
    the version it was checked against, and the write refuses any other.
    ``format`` names the snapshot's shape: a snapshot of another shape is rebuilt from the log.
    """

    __tablename__ = "referral_case_snapshots"

    case_id: uuid.UUID = Field(sa_column=Column(ForeignKey("referral_cases.id"), primary_key=True))
    version: int
    format: int
    state: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
