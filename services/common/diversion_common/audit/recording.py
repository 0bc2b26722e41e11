"""A call's audit record, written in the transaction of the call's first change.

The audit middleware opens a ``CallAudit`` for each call. Any session of the service's
engine that commits a change while the call runs (in the route's thread, or a helper's
session in it) first adds the call's record, and a row for each case the change wrote
(any row with a ``case_id``) or the call named: the change and its record commit
together, or neither does (``AuditWriteFailed``, answered 503).

The record holds the status the call will answer with: the route's own status code,
unless the route declares another before committing (``answering``), or declares that it
is not known yet (``answering(None)``: e.g. a provider's event, stored before referral_api
decides it); then a later change in the call, or the middleware at the answer, writes it.
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar
from functools import cache
from typing import Any

from sqlalchemy import Engine, Insert, Select, bindparam, event, func, select
from sqlalchemy.dialects import postgresql
from sqlmodel import Session
from starlette.types import Scope

from diversion_common import actors
from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.database import utcnow
from diversion_common.observability import route_template, validated_ids
from diversion_common.problems import DatabaseUnavailable, ServiceUnavailable, database_unreachable

_ROUTE_DEFAULT = object()
_AUDIT_WRITE = "audit_write"  # session.info: this session writes only the record (the middleware's)
_WROTE = "audit_change_written"  # session.info: this transaction changed something
_IN_FLIGHT = "audit_in_flight"  # session.info: the record rides on this transaction


class AuditWriteFailed(ServiceUnavailable):
    slug = "audit-unavailable"
    title = "The call cannot be recorded in the audit log right now"

    def __init__(self) -> None:
        super().__init__("Nothing was changed; try again after Retry-After", headers={"Retry-After": "2"})


def unwritten(error: BaseException) -> ServiceUnavailable:
    """What a call is answered when its record could not be written: the database's own 503 if it
    could not be reached (a client sees the same whichever write met the outage first), else ours."""
    return DatabaseUnavailable() if database_unreachable(error) else AuditWriteFailed()


class CallAudit:
    def __init__(
        self,
        engine: Engine,
        record_table: type[AuditRecordFields],
        case_table: type[AuditCaseFields],
        scope: Scope,
        request_id: str,
        x_request_id: str | None,
    ) -> None:
        self.engine = engine
        self.record_table = record_table
        self.case_table = case_table
        self.scope = scope
        self.request_id = request_id
        self.x_request_id = x_request_id
        self.declared: Any = _ROUTE_DEFAULT
        self.touched: list[uuid.UUID] = []  # diversion_common.audit.context.touched adds here
        self.record_id: int | None = None
        self.written_status: int | None = None
        self.recorded_cases: set[uuid.UUID] = set()

    def expected_status(self) -> int | None:
        if self.declared is not _ROUTE_DEFAULT:
            return self.declared
        route = self.scope.get("route")
        return getattr(route, "status_code", None) or 200

    def case_ids(self) -> list[uuid.UUID]:
        case_id = (validated_ids(self.scope.get("path_params")) or {}).get("case_id")
        return list(dict.fromkeys([*([uuid.UUID(case_id)] if case_id else []), *self.touched]))

    def cases_to_add(self) -> list[uuid.UUID]:
        return [case_id for case_id in self.case_ids() if case_id not in self.recorded_cases]

    def write(self, session: Session, status: int) -> tuple[int, int, list[uuid.UUID]]:
        """Add the record (once) and its cases not yet written to the session's transaction."""
        # Written as plain Core inserts on the session's connection, statements built once (on
        # PostgreSQL the record and its cases in one round trip, elsewhere one for each): through the
        # ORM this write cost a fifth of a referral's CPU (docs/PERFORMANCE.md).
        connection = session.connection()
        record_id = self.record_id if self.written_status is not None else None
        cases = self.cases_to_add()
        on_postgresql = connection.dialect.name == "postgresql"
        if record_id is None and cases and on_postgresql:
            # The record and its cases in one statement: one round trip fewer on every call that names a case.
            record_id = connection.execute(
                _record_with_cases(self.record_table, self.case_table), {**self._record(status), "case_ids": cases}
            ).scalar_one()
            return record_id, status, cases
        if record_id is None:
            record_id = connection.execute(_record_insert(self.record_table), self._record(status)).scalar_one()
        if len(cases) > 1 and on_postgresql:
            connection.execute(_cases_as_one_array(self.case_table), {"audit_id": record_id, "case_ids": cases})
        elif cases:
            connection.execute(_case_insert(self.case_table), [{"audit_id": record_id, "case_id": case_id} for case_id in cases])
        return record_id, status, cases

    def _record(self, status: int) -> dict[str, Any]:
        state: dict[str, Any] = self.scope.get("state") or {}
        client_id = _uuid_or_none(state.get("client_id"))
        return {
            "request_id": self.request_id,
            "correlation_id": self.x_request_id,
            "client_id": client_id,
            "actor": actors.client(client_id) if client_id else actors.UNAUTHENTICATED,
            "role": state.get("client_role"),
            "method": self.scope["method"][:10],
            "route": route_template(self.scope),
            "path_ids": validated_ids(self.scope.get("path_params")),
            "status": status,
            "at": utcnow(),
        }

    def committed(self, record_id: int, status: int, cases: list[uuid.UUID]) -> None:
        self.record_id = record_id
        self.written_status = status
        self.recorded_cases.update(cases)


@cache
def _record_insert(record_table: type[AuditRecordFields]) -> Insert:
    table = record_table.__table__  # type: ignore[attr-defined]
    return table.insert().returning(table.c.id)


@cache
def _case_insert(case_table: type[AuditCaseFields]) -> Insert:
    return case_table.__table__.insert()  # type: ignore[attr-defined]


@cache
def _cases_as_one_array(case_table: type[AuditCaseFields]) -> Insert:
    """PostgreSQL: a page's cases in one statement, their ids as one array. Measured in one
    process: 20 cases 597 µs of CPU as an executemany, 201 as this; 3 cases 216 and 110; one
    case 151 and 161, so one case stays a plain insert."""
    columns = case_table.__table__.c  # type: ignore[attr-defined]
    case_ids = func.unnest(bindparam("case_ids", type_=postgresql.ARRAY(columns.case_id.type)))
    return case_table.__table__.insert().from_select(  # type: ignore[attr-defined]
        ["audit_id", "case_id"], select(bindparam("audit_id", type_=columns.audit_id.type), case_ids)
    )


@cache
def _record_with_cases(record_table: type[AuditRecordFields], case_table: type[AuditCaseFields]) -> Select:
    """PostgreSQL: the record and its cases (an array) in one statement, the record's id returned."""
    columns = case_table.__table__.c  # type: ignore[attr-defined]
    table = record_table.__table__  # type: ignore[attr-defined]
    # Each value named: an INSERT inside a CTE does not leave out the columns the call gives none for.
    values = {column.name: bindparam(column.name, type_=column.type) for column in table.c if column.name != "id"}
    record = table.insert().values(values).returning(table.c.id).cte("record")
    case_ids = func.unnest(bindparam("case_ids", type_=postgresql.ARRAY(columns.case_id.type)))
    case_rows = case_table.__table__.insert().from_select(["audit_id", "case_id"], select(record.c.id, case_ids)).cte("case_rows")  # type: ignore[attr-defined]
    return select(record.c.id).add_cte(case_rows)


call_audit_var: ContextVar[CallAudit | None] = ContextVar("call_audit", default=None)


def answering(status: int | None) -> None:
    """Declare the status this call's change will be answered with, before committing it;
    None: not known yet, so this transaction does not carry the record."""
    audit = call_audit_var.get()
    if audit is not None:
        audit.declared = status


def rides_on(session: Session) -> None:
    """This transaction carries the call's record: it holds rows written on the session's connection
    (a read's access rows, a message's inbox row, an event's decision), which the ORM's events do
    not see. They and the record commit together, instead of the record taking a transaction (and
    a thread) of its own after the answer."""
    session.info[_WROTE] = True


def open_for_audit_write(engine: Engine) -> Session:
    """The middleware's own session for a call that changed nothing (no second record)."""
    session = Session(engine)
    session.info[_AUDIT_WRITE] = True
    return session


def _call_audit_for(session: Session) -> CallAudit | None:
    audit = call_audit_var.get()
    if audit is None or session.info.get(_AUDIT_WRITE) or session.get_bind() is not audit.engine:
        return None
    return audit


@event.listens_for(Session, "after_flush")
def _note_change(session: Session, _context: Any) -> None:
    audit = _call_audit_for(session)
    if audit is None:
        return
    session.info[_WROTE] = True
    for row in [*session.new, *session.dirty, *session.deleted]:
        case_id = getattr(row, "case_id", None)
        if isinstance(case_id, uuid.UUID) and not isinstance(row, (AuditCaseFields, AuditRecordFields)):
            audit.touched.append(case_id)


@event.listens_for(Session, "do_orm_execute")
def _note_statement(state: Any) -> None:
    if (state.is_insert or state.is_update or state.is_delete) and _call_audit_for(state.session) is not None:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _record_with_change(session: Session) -> None:
    audit = _call_audit_for(session)
    if audit is None or (audit.written_status is not None and not audit.cases_to_add()):
        return
    if not (session.new or session.dirty or session.deleted or session.info.get(_WROTE)):
        return
    session.flush()  # the change's own rows first, so the cases it wrote are known
    status = audit.written_status or audit.expected_status()
    if status is None:
        return
    try:
        session.info[_IN_FLIGHT] = audit.write(session, status)
    except Exception as error:
        raise unwritten(error) from error


@event.listens_for(Session, "after_commit")
def _recorded(session: Session) -> None:
    session.info.pop(_WROTE, None)
    in_flight = session.info.pop(_IN_FLIGHT, None)
    audit = _call_audit_for(session)
    if in_flight is not None and audit is not None:
        audit.committed(*in_flight)


@event.listens_for(Session, "after_soft_rollback")
def _not_recorded(session: Session, _previous: Any) -> None:
    session.info.pop(_WROTE, None)
    session.info.pop(_IN_FLIGHT, None)


def _uuid_or_none(value: object) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value is not None else None
    except ValueError:
        return None
