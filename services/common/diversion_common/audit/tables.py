"""Columns every service's audit tables share; each service names its own tables.

A record per call (or per operator's command that changed something: method ``CLI``), and
a row per case the call touched (so "who saw this case" is one
indexed lookup). Nothing updates or deletes either: no code path does, and the
migrations add database triggers that refuse it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlmodel import Field, SQLModel

from diversion_common.database import utcnow

TIMESTAMP = DateTime(timezone=True)


class AuditRecordFields(SQLModel):
    """One call: who, what, on which ids, and the answer. Never a body, a query or a raw path."""

    id: int | None = Field(default=None, primary_key=True)
    request_id: str = Field(max_length=36, unique=True, index=True)  # the record's own: ours, always (a UUID)
    # The call's X-Request-ID (the caller's, or ours): what its log lines and the messages it caused
    # carry. None on an operator's command, and on rows written before it was kept for every call.
    correlation_id: str | None = Field(default=None, max_length=128)
    client_id: uuid.UUID | None = Field(default=None, index=True)  # none when unauthenticated
    # Who: client:<id>, operator:<name>, unauthenticated (diversion_common.actors); none on rows
    # written before actors were recorded.
    actor: str | None = Field(default=None, max_length=120)
    role: str | None = Field(default=None, max_length=20)
    method: str = Field(max_length=10)
    route: str | None = Field(default=None, max_length=200)  # the template, e.g. /v1/referrals/{case_id}
    path_ids: dict[str, Any] | None = Field(default=None, sa_type=JSON)  # type: ignore[call-overload]
    status: int = Field(index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP, index=True)  # type: ignore[call-overload]


class AuditCaseFields(SQLModel):
    """A case one call read or changed."""

    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(index=True)
    case_id: uuid.UUID = Field(index=True)
