"""Recording a fact on a case's log and keeping the case's snapshot and projection in step.

Everything here runs in the caller's transaction: the fact, the case's folded snapshot, the
projection row (status, version, next deadline) and the messages a change causes commit
together, or not at all. The caller holds the case row locked; the snapshot's write is checked
against the version the fact was folded onto as well, so two writers can never both extend
the same snapshot. A new fact folds one fact onto the stored snapshot; a read folds nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlmodel import Session

from diversion_common import actors
from diversion_common.audit.context import touched
from diversion_common.contracts import CaseStatus
from diversion_common.database import as_utc, utcnow
from referral_api.case_log.tables import CaseFact, CaseSnapshotRow
from referral_api.cases.tables import Case
from referral_api.config import get_settings
from referral_api.lifecycle.facts import GATEWAY_SOURCE, Fact, FactKind, police_source, provider_source, yju_source  # noqa: F401 (re-exported)
from referral_api.lifecycle.events import DomainEvent
from referral_api.lifecycle.fold import CaseSnapshot, CaseState, fold_snapshot, state_of as state_from, step
from referral_api.lifecycle.snapshots import FORMAT, snapshot_from_json, snapshot_to_json
from referral_api.lifecycle.programme import ProgrammeRules
from referral_api.lifecycle.rules import Refusal


class FactRefused(Exception):
    """The fact cannot be recorded on this case (e.g. an appointment never booked)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.detail)
        self.refusal = refusal


class SnapshotConflict(Exception):
    """Another writer extended the case's snapshot first: the caller's transaction must not commit."""


@dataclass(frozen=True)
class Recorded:
    case: Case
    state: CaseState
    snapshot: CaseSnapshot
    previous_status: CaseStatus | None
    duplicate: bool
    events: tuple[DomainEvent, ...] = ()
    recorded_at: datetime | None = None

    @property
    def status_changed(self) -> bool:
        return not self.duplicate and self.state.status != self.previous_status


def programme_rules() -> ProgrammeRules:
    settings = get_settings()
    return ProgrammeRules(
        adult_completion_weeks=settings.adult_completion_weeks,
        youth_completion_weeks=settings.youth_completion_weeks,
        youth_assessment_working_days=settings.youth_assessment_working_days,
    )


def to_fact(row: Any) -> Fact:
    """A fact from its row: an ORM ``CaseFact`` or a Core row of its columns."""
    return Fact(
        kind=FactKind(row.kind),
        occurred_at=as_utc(row.occurred_at),
        seq=row.seq,
        source=row.source,
        source_id=row.source_id,
        data=row.data,
        recorded_at=as_utc(row.recorded_at),
    )


def facts_of(session: Session, case_id: uuid.UUID) -> list[Fact]:
    """The whole log: for rebuilding a snapshot and for exports, never on a request's path."""
    rows = session.scalars(select(CaseFact).where(CaseFact.case_id == case_id).order_by(CaseFact.seq))  # type: ignore[arg-type]
    return [to_fact(row) for row in rows]


def facts_at(session: Session, case_id: uuid.UUID, seqs: set[int]) -> dict[int, Fact]:
    """The named facts of a case, by seq."""
    if not seqs:
        return {}
    # Core, the statement built once: every police read of a case asks for its history's facts. Facts
    # are only ever written through Core on this connection (_NEW_FACT), so none waits in the session.
    rows = session.connection().execute(_FACTS_AT, {"case_id": case_id, "seqs": sorted(seqs)})
    return {row.seq: to_fact(row) for row in rows}


_FACTS_AT = select(
    CaseFact.kind, CaseFact.occurred_at, CaseFact.seq, CaseFact.source, CaseFact.source_id, CaseFact.data, CaseFact.recorded_at,  # type: ignore[arg-type]
).where(CaseFact.case_id == bindparam("case_id"), CaseFact.seq.in_(bindparam("seqs", expanding=True)))  # type: ignore[attr-defined]


def first_fact_of_kind(session: Session, case_id: uuid.UUID, kind: FactKind) -> Fact | None:
    row = session.scalars(
        select(CaseFact).where(CaseFact.case_id == case_id, CaseFact.kind == kind.value).order_by(CaseFact.seq).limit(1)  # type: ignore[arg-type]
    ).first()
    return to_fact(row) if row is not None else None


def facts_since_submission(session: Session, case_id: uuid.UUID, request: Any) -> list[Fact]:
    """The facts recorded since a breach request was submitted, its submission included (a fact's
    recorded_at is never before its occurred_at): what was reported after the officer sent it,
    read by the (case, recorded_at) order rather than the whole log. None before submission."""
    if request.submitted_at is None:
        return []
    rows = session.scalars(
        select(CaseFact).where(CaseFact.case_id == case_id, CaseFact.recorded_at >= request.submitted_at).order_by(CaseFact.seq)  # type: ignore[arg-type]
    )
    return [to_fact(row) for row in rows]


def facts_since_submissions(session: Session, submissions: set[tuple[uuid.UUID, datetime]]) -> dict[tuple[uuid.UUID, datetime], list[Fact]]:
    """``facts_since_submission`` for the requests of a page at once, each named by its case and
    its submission: one statement for the late facts only, not one per request."""
    if not submissions:
        return {}
    rows = session.scalars(
        select(CaseFact).where(or_(*(and_(CaseFact.case_id == case_id, CaseFact.recorded_at >= at) for case_id, at in submissions)))  # type: ignore[arg-type,operator]
        .order_by(CaseFact.case_id, CaseFact.seq)  # type: ignore[arg-type]
    )
    by_case: dict[uuid.UUID, list[CaseFact]] = defaultdict(list)
    for row in rows:
        by_case[row.case_id].append(row)
    return {
        (case_id, at): [to_fact(row) for row in by_case[case_id] if as_utc(row.recorded_at) >= as_utc(at)]
        for case_id, at in submissions
    }


def current_states(session: Session, case_ids: list[uuid.UUID]) -> dict[uuid.UUID, CaseState]:
    """``current_state`` of several cases, their snapshots read in one statement."""
    rows = {row.case_id: row for row in session.scalars(select(CaseSnapshotRow).where(CaseSnapshotRow.case_id.in_(case_ids)))}  # type: ignore[attr-defined]
    rules = programme_rules()
    return {
        case_id: state_from(
            snapshot_from_json(rows[case_id].state) if case_id in rows and rows[case_id].format == FORMAT else snapshot_of(session, case_id),
            rules,
        )
        for case_id in case_ids
    }


def snapshot_of(session: Session, case_id: uuid.UUID) -> CaseSnapshot:
    """The case's stored snapshot; one missing or of an older shape is rebuilt from the log (and kept)."""
    row = session.connection().execute(_SNAPSHOT, {"case": case_id}).first()
    if row is not None and row.format == FORMAT:
        return snapshot_from_json(row.state)
    return _store_rebuilt(session, case_id, session.get(CaseSnapshotRow, case_id))


def _store_rebuilt(session: Session, case_id: uuid.UUID, row: CaseSnapshotRow | None) -> CaseSnapshot:
    snapshot = fold_snapshot(facts_of(session, case_id))
    if snapshot.version == 0:
        return snapshot  # no facts, nothing to keep: the first fact's write inserts the row
    if row is None:
        session.add(CaseSnapshotRow(case_id=case_id, version=snapshot.version, format=FORMAT, state=snapshot_to_json(snapshot)))
    else:
        row.version, row.format, row.state = snapshot.version, FORMAT, snapshot_to_json(snapshot)
        session.add(row)
    session.flush()
    return snapshot


def rebuild_state(session: Session, case: Case) -> CaseState:
    """Refold the case from its whole log into its snapshot and projection (a backfill, an erasure)."""
    snapshot = _store_rebuilt(session, case.id, session.get(CaseSnapshotRow, case.id))
    state = state_from(snapshot, programme_rules())
    case.status, case.version = state.status.value, state.version
    session.add(case)
    return state


def current_state(session: Session, case_id: uuid.UUID) -> CaseState:
    return state_from(snapshot_of(session, case_id), programme_rules())


def _store(session: Session, case_id: uuid.UUID, before: CaseSnapshot, after: CaseSnapshot) -> None:
    values = {"case": case_id, "version": after.version, "format": FORMAT, "state": snapshot_to_json(after)}
    if before.version == 0:
        # A second writer's snapshot for the same case fails here, on its primary key.
        session.connection().execute(_FIRST_SNAPSHOT, values)
        return
    written = session.connection().execute(_NEXT_SNAPSHOT, {**values, "before": before.version})
    if written.rowcount != 1:
        raise SnapshotConflict(f"case {case_id}: the snapshot moved past version {before.version}")


# Every fact is written through these, on the session's connection, built once: through the ORM
# (objects, a flush, statements built per call) they were a third of a provider event's CPU in
# referral_api (docs/PERFORMANCE.md). What the facts and snapshots are is still the tables' own.
_facts, _snapshots = CaseFact.__table__, CaseSnapshotRow.__table__  # type: ignore[attr-defined]
_SNAPSHOT = select(_snapshots.c.format, _snapshots.c.state).where(_snapshots.c.case_id == bindparam("case"))
_FIRST_SNAPSHOT = _snapshots.insert().values(
    case_id=bindparam("case"), version=bindparam("version"), format=bindparam("format"), state=bindparam("state")
)
_NEXT_SNAPSHOT = (
    update(_snapshots)
    .where(_snapshots.c.case_id == bindparam("case"), _snapshots.c.version == bindparam("before"))
    .values(version=bindparam("version"), format=bindparam("format"), state=bindparam("state"))
)
_CASE_OF_SOURCE_ID = select(_facts.c.case_id).where(_facts.c.source == bindparam("source"), _facts.c.source_id == bindparam("source_id")).limit(1)
_NEW_FACT = _facts.insert()


def append(
    session: Session,
    case: Case,
    *,
    kind: FactKind,
    occurred_at: datetime,
    source: str,
    source_id: str,
    data: Mapping[str, Any],
    actor: uuid.UUID | None = None,
    acted_by: str | None = None,
    check: Callable[[CaseState, Fact], Refusal | None] | None = None,
) -> Recorded:
    """Append a fact (a repeat from the same source changes nothing), fold it onto the case's
    snapshot, and keep the projection row in step. What it caused is in ``Recorded.events``: acting
    on them (and on the breach rules) is case_events.recording's. The fact names its actor:
    ``acted_by``, else the API client ``actor``, else its source."""
    # The projection's version counts the case's facts (both are written together): a case with
    # none yet has no snapshot to read and no repeat to find; a fact another case already holds
    # under this source id is refused by the log's unique (source, source_id).
    has_facts = case.version > 0
    snapshot = snapshot_of(session, case.id) if has_facts else CaseSnapshot()
    rules = programme_rules()
    before = state_from(snapshot, rules) if snapshot.version else None
    connection = session.connection()
    repeat = connection.execute(_CASE_OF_SOURCE_ID, {"source": source, "source_id": source_id}).scalar() if has_facts else None
    if repeat == case.id:
        assert before is not None
        return Recorded(case, before, snapshot, before.status, duplicate=True)
    now = utcnow()
    fact = Fact(
        kind=kind,
        occurred_at=as_utc(occurred_at),
        seq=snapshot.version + 1,  # the log's seqs run 1..version: (case_id, seq) is unique too
        source=source,
        source_id=source_id,
        data=dict(data),
        recorded_at=now,
    )
    if check is not None and before is not None:
        refusal = check(before, fact)
        if refusal is not None:
            raise FactRefused(refusal)
    folded, after, events = step(snapshot, before, fact, rules)
    case.status = after.status.value
    case.version = after.version
    case.next_deadline_at = after.next_deadline_at
    case.updated_at = now
    session.add(case)
    if not has_facts:
        # A new case's row goes first (its facts refer to it), written as its first fact leaves
        # it: inserted once, not inserted and then updated.
        session.flush()
    named = acted_by or (actors.client(actor) if actor else source)
    connection.execute(_NEW_FACT, {
        "case_id": case.id, "seq": fact.seq, "kind": kind.value, "occurred_at": fact.occurred_at, "recorded_at": now,
        "source": source, "source_id": source_id, "actor_client_id": actor, "data": dict(data), "actor": named,
    })
    touched([case.id])  # the call's audit record names it (the ORM's flush no longer sees the fact)
    _store(session, case.id, snapshot, folded)
    return Recorded(case, after, folded, before.status if before else None, duplicate=False, events=events, recorded_at=now)
