"""Searching the audit log: the admin route's filters (GET /v1/admin/audit) and the CLI's `audit search`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.database import as_utc


class AuditRecordPublic(BaseModel):
    request_id: str = Field(description="The record's own id: ours, one per call.")
    correlation_id: str | None = Field(
        description="The X-Request-ID the call was answered with (the caller's when it sent a UUID, else ours): "
        "the id its log lines, and the messages and notifications it caused, carry. Null for an operator's command."
    )
    client_id: uuid.UUID | None = Field(description="None when the call carried no valid credential.")
    actor: str | None = Field(
        description="Who: `client:<id>` (an API client), `operator:<name>` (a person at the command line, "
        "method `CLI`) or `unauthenticated`; null on records written before actors were recorded."
    )
    role: str | None
    method: str = Field(description="The HTTP method, or `CLI` for an operator's command that changed something.")
    route: str | None = Field(description="The route's template (none when no route matched), or the command, e.g. `diversion-link clients create`.")
    path_ids: dict[str, Any] | None = Field(description="The ids in the path that are ids we issue or reference codes.")
    case_ids: list[uuid.UUID] = Field(description="Every case the call read or changed.")
    status: int = Field(description="The HTTP status of the answer; 0 for a command (its exit status).")
    at: datetime


class AuditPage(BaseModel):
    items: list[AuditRecordPublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


def _record_id(text: str) -> int:
    value = int(text)
    if not 0 < value < 2**63:  # a bigint, or the database would refuse the comparison
        raise ValueError(text)
    return value


def search_audit(
    session: Session,
    record_table: type[AuditRecordFields],
    case_table: type[AuditCaseFields],
    *,
    client_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    actor: str | None = None,
    status: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditPage:
    """One page of the records matching every filter given, oldest first, each with the cases it touched."""
    records: Any = record_table
    cases: Any = case_table
    query = select(records)
    if client_id is not None:
        query = query.where(records.client_id == client_id)
    if case_id is not None:
        query = query.where(records.id.in_(select(cases.audit_id).where(cases.case_id == case_id)))
    if actor is not None:
        query = query.where(records.actor == actor)
    if status is not None:
        query = query.where(records.status == status)
    if since is not None:
        query = query.where(records.at >= as_utc(since))
    if until is not None:
        query = query.where(records.at < as_utc(until))
    page = pagination.keyset_page(
        session, query, at=records.at, key=records.id, cursor=cursor, limit=limit,
        key_from_text=_record_id, key_to_text=str,
    )
    touched: dict[int, list[uuid.UUID]] = {row.id: [] for row in page.rows}
    if touched:
        for audit_id, touched_case in session.execute(
            select(cases.audit_id, cases.case_id).where(cases.audit_id.in_(list(touched))).order_by(cases.id)
        ):
            touched[audit_id].append(touched_case)
    return AuditPage(
        items=[
            AuditRecordPublic(
                request_id=row.request_id, correlation_id=row.correlation_id, client_id=row.client_id, actor=row.actor, role=row.role,
                method=row.method, route=row.route, path_ids=row.path_ids, case_ids=touched[row.id],
                status=row.status, at=as_utc(row.at),
            )
            for row in page.rows
        ],
        next_cursor=page.next_cursor,
    )
