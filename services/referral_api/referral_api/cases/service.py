"""What can be done with cases. Each public function is one transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from urllib.parse import urlencode
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.audit.context import touched
from diversion_common.audit.recording import rides_on
from diversion_common.credentials import Principal
from diversion_common.database import as_utc, utcnow
from diversion_common.messaging import enqueue
from diversion_common.problems import FieldError, NotFound, ValidationFailed
from diversion_common.contracts import TERMINAL_STATUSES, CaseStatus, Pathway, ProviderEventType, coded_reason
from referral_api.case_events import recording
from referral_api.case_log import service as case_log
from referral_api.cases.announcements import programme_summary
from referral_api.cases.outgoing import routing_requested
from referral_api.cases.rules import intake_violations
from referral_api.cases.schemas import (
    CaseDetail,
    CasePage,
    CasePublic,
    HistoryEntry,
    ReferralCreate,
    TimelineEntry,
    TimelinePage,
    WithdrawRequest,
)
from referral_api.cases.tables import Case, CaseAccess, IdempotencyRecord
from referral_api.errors import CaseStatusConflict, DuplicateReferral, IdempotencyKeyReused
from referral_api.lifecycle import pathway as pathways
from referral_api.lifecycle.facts import Fact, FactKind
from referral_api.lifecycle.fold import CaseState
from referral_api.lifecycle.fold import superseded
from referral_api.lifecycle.timeline import describe
from referral_api.reference import service as reference
from referral_api.case_log.tables import CaseFact


def case_location(case_id: uuid.UUID) -> str:
    return f"/v1/referrals/{case_id}"


@dataclass(frozen=True)
class IntakeResult:
    body: dict
    case_id: uuid.UUID
    replayed: bool


def submit_referral(
    session: Session,
    principal: Principal,
    referral: ReferralCreate,
    *,
    idempotency_key: str | None,
    clock_skew: timedelta,
) -> IntakeResult:
    assert principal.force is not None
    request_hash = _fingerprint(referral)
    earlier = _earlier_answer(session, principal, referral, idempotency_key, request_hash)
    if earlier is not None:
        return earlier

    now = utcnow()
    district_force = reference.force_of_district_in_use(session, referral.encounter.district)
    violations = intake_violations(referral, force=principal.force, district_force=district_force, now=now, clock_skew=clock_skew)
    if violations:
        raise ValidationFailed(
            f"{len(violations)} field(s) break intake rules",
            errors=[FieldError(pointer=pointer, detail=detail) for pointer, detail in violations],
        )

    case = build_case(referral, principal, now)
    try:
        session.add(case)  # written with its first fact (case_log.append)
        record_intake(session, case, principal.client_id, now)
        if case.status == CaseStatus.awaiting_routing.value:
            enqueue(session, routing_requested(case))
        body = to_public(case).model_dump(mode="json")
        if idempotency_key is not None:
            session.add(
                IdempotencyRecord(
                    client_id=principal.client_id,
                    key=idempotency_key,
                    request_hash=request_hash,
                    status_code=201,
                    response_body=body,
                    case_id=case.id,
                )
            )
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key or reference won the race: answer as it did.
        session.rollback()
        earlier = _earlier_answer(session, principal, referral, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier
    return IntakeResult(body=body, case_id=case.id, replayed=False)


_EXISTING_CASE = select(Case.id).where(Case.force == bindparam("force"), Case.police_reference == bindparam("reference")).limit(1)  # type: ignore[arg-type]
_KEYED_ANSWER = select(IdempotencyRecord.request_hash, IdempotencyRecord.response_body, IdempotencyRecord.case_id).where(
    IdempotencyRecord.client_id == bindparam("client_id"), IdempotencyRecord.key == bindparam("key")  # type: ignore[arg-type]
)


def _earlier_answer(
    session: Session,
    principal: Principal,
    referral: ReferralCreate,
    idempotency_key: str | None,
    request_hash: str,
) -> IntakeResult | None:
    """The replay of a keyed retry, or the conflict with an existing case."""
    # The case is looked up before the key: both commit together, so once the
    # case is visible the key's record is too (a concurrent first request may
    # commit between the two statements).
    # Read with statements built once, on the session's connection: through the ORM these two
    # look-ups were a sixth of intake's route CPU (docs/PERFORMANCE.md).
    connection = session.connection()
    existing = connection.execute(_EXISTING_CASE, {"force": principal.force, "reference": referral.police_reference}).scalar()
    if idempotency_key is not None:
        record = connection.execute(_KEYED_ANSWER, {"client_id": principal.client_id, "key": idempotency_key}).first()
        if record is not None:
            if record.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    "send a new Idempotency-Key for a different referral",
                    errors=[FieldError(pointer="#header/Idempotency-Key", detail="was used with a different body")],
                )
            return IntakeResult(body=record.response_body, case_id=record.case_id, replayed=True)
    if existing is not None:
        raise DuplicateReferral(
            "a case already exists for this police_reference",
            existing=case_location(existing),
            headers={"Location": case_location(existing)},
        )
    return None


def _fingerprint(referral: ReferralCreate) -> str:
    canonical = json.dumps(referral.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def build_case(referral: ReferralCreate, principal: Principal, now: datetime) -> Case:
    """The case intake stores for a valid referral (not yet added to a session); its log starts
    with ``record_intake``."""
    encounter_date = pathways.encounter_date(referral.encounter.occurred_at)
    pathway = pathways.pathway_for(referral.subject.date_of_birth, encounter_date)
    return Case(
        force=principal.force,
        police_reference=referral.police_reference,
        status=CaseStatus.awaiting_routing.value,
        pathway=pathway.value,
        district=referral.encounter.district,
        encounter_at=referral.encounter.occurred_at,
        previous_diversions=referral.previous_diversions,
        age_at_encounter=pathways.age_on(referral.subject.date_of_birth, encounter_date),
        sex=referral.subject.sex.value,
        ethnicity=referral.subject.ethnicity.value,
        out_of_hours_wanted=referral.subject.contact_preferences.out_of_hours_appointments,
        referral=referral.model_dump(mode="json", by_alias=True),
        created_by=principal.client_id,
        created_at=now,
        updated_at=now,
    )


def record_intake(session: Session, case: Case, client_id: uuid.UUID, now: datetime) -> None:
    """The first fact of every case: the referral, and whether the Youth Justice Unit must decide first."""
    pathway = Pathway(case.pathway)
    recording.record(
        session,
        case,
        kind=FactKind.referral_received,
        occurred_at=now,
        source=case_log.police_source(client_id),
        source_id=str(case.id),
        data={"pathway": pathway.value, "needs_yju": pathways.needs_yju(pathway, case.previous_diversions)},
        actor=client_id,
    )


def to_public(case: Case) -> CasePublic:
    return CasePublic(
        id=case.id,
        police_reference=case.police_reference,
        force=case.force,
        status=CaseStatus(case.status),
        pathway=Pathway(case.pathway),
        district=case.district,
        created_at=as_utc(case.created_at),
        updated_at=as_utc(case.updated_at),
    )


# A provider's reasons shown to the police: codes only (the contract says which reasons are codes).
# Free text (a cancellation's reason, any note) may hold health details and stays with the provider.
_PROVIDER_REASON_CODES = frozenset(FactKind(kind.value) for kind in ProviderEventType if coded_reason(kind))


def _reason_of(fact: Fact) -> str | None:
    """The reason shown beside a change of status; the police's and the YJU's own notes are theirs to see."""
    reason, note = fact.data.get("reason"), fact.data.get("note")
    if fact.source.startswith(("police:", "yju:")):
        return f"{reason}: {note}" if reason and note else (str(reason or note) if reason or note else None)
    if fact.kind in _PROVIDER_REASON_CODES or fact.source == case_log.GATEWAY_SOURCE:
        return str(reason) if reason is not None else None
    return None


def to_detail(session: Session, case: Case, state: CaseState | None = None) -> CaseDetail:
    state = state or case_log.current_state(session, case.id)
    facts = case_log.facts_at(session, case.id, {step.seq for step in state.transitions})
    return CaseDetail(
        **to_public(case).model_dump(),
        version=case.version,
        programme=programme_summary(state),
        history=[
            HistoryEntry(status=step.status, event=step.kind.value, at=step.at, reason=_reason_of(facts[step.seq]))
            for step in state.transitions
        ],
    )


def record_access(session: Session, principal: Principal, case_ids: list[uuid.UUID], action: str, request_id: str | None) -> None:
    touched(case_ids)  # the call's audit record names them too
    rides_on(session)
    if not case_ids:
        return
    # One prebuilt insert for the page's rows, in the read's transaction: every read pays for it.
    now = utcnow()
    session.connection().execute(_ACCESS_INSERT, [
        {"case_id": case_id, "client_id": principal.client_id, "action": action, "request_id": request_id, "at": now} for case_id in case_ids
    ])


_ACCESS_INSERT = CaseAccess.__table__.insert()  # type: ignore[attr-defined]


def _force_case(session: Session, principal: Principal, case_id: uuid.UUID, *, for_update: bool = False) -> Case:
    # A change locks the row: a withdrawal racing a YJU decision or a gateway message must see its result.
    case = session.get(Case, case_id, with_for_update=for_update)
    # Another force's case does not exist as far as this caller can tell.
    if case is None or case.force != principal.force:
        raise NotFound("no such referral")
    return case


def read_case(session: Session, principal: Principal, case_id: uuid.UUID, request_id: str | None) -> CaseDetail:
    case = _force_case(session, principal, case_id)
    record_access(session, principal, [case.id], "read", request_id)
    detail = to_detail(session, case)
    session.commit()
    return detail


def list_cases(
    session: Session,
    principal: Principal,
    *,
    status: CaseStatus | None,
    updated_since: datetime | None,
    cursor: str | None,
    limit: int,
    request_id: str | None,
) -> CasePage:
    query = select(Case).where(Case.force == principal.force)
    if status is not None:
        query = query.where(Case.status == status.value)
    if updated_since is not None:
        query = query.where(Case.updated_at >= as_utc(updated_since))
    page = keyset_page_of_cases(session, query, cursor, limit)
    record_access(session, principal, [case.id for case in page.rows], "list", request_id)
    session.commit()
    return CasePage(items=[to_public(case) for case in page.rows], next_cursor=page.next_cursor)


def keyset_page_of_cases(session: Session, query, cursor: str | None, limit: int) -> pagination.Page[Case]:
    """Cases in the order they last changed, so a poller misses no change."""
    return pagination.keyset_page(
        session, query, at=Case.updated_at, key=Case.id, cursor=cursor, limit=limit,  # type: ignore[arg-type]
        key_from_text=pagination.uuid_key, key_to_text=pagination.uuid_text,
    )


def withdraw_case(
    session: Session, principal: Principal, case_id: uuid.UUID, request: WithdrawRequest, request_id: str | None
) -> CaseDetail:
    case = _force_case(session, principal, case_id, for_update=True)
    if CaseStatus(case.status) in TERMINAL_STATUSES:
        raise CaseStatusConflict(f"a case in status {case.status} cannot be withdrawn", case_status=case.status)
    recorded = recording.record(
        session,
        case,
        kind=FactKind.withdrawn,
        occurred_at=utcnow(),
        source=case_log.police_source(principal.client_id),
        # Ours, not the client's X-Request-ID: a source id is unique across every case.
        source_id=str(uuid.uuid4()),
        data={"reason": request.reason.value, "note": request.note, "request_id": request_id},
        actor=principal.client_id,
    )
    detail = to_detail(session, case, recorded.state)
    session.commit()
    return detail


TIMELINE_PAGE = 100  # entries on a page unless the caller asks otherwise
TIMELINE_PAGE_MAX = 500


def timeline(
    session: Session, principal: Principal, case_id: uuid.UUID, request_id: str | None, *,
    cursor: str | None = None, limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """One page of the case's facts in the order they happened, in plain words for an officer.
    The page is read by the log's (case, occurred_at, seq) index; corrections come from the snapshot."""
    case = _force_case(session, principal, case_id)
    record_access(session, principal, [case.id], "timeline", request_id)
    snapshot = case_log.snapshot_of(session, case.id)
    page = pagination.keyset_page(
        session, select(CaseFact).where(CaseFact.case_id == case.id), at=CaseFact.occurred_at, key=CaseFact.seq,  # type: ignore[arg-type]
        cursor=cursor, limit=limit, key_from_text=int,
    )
    entries = []
    for fact in (case_log.to_fact(row) for row in page.rows):
        late = abs((fact.recorded_at - fact.occurred_at).total_seconds()) > REPORTED_LATE_SECONDS
        entries.append(TimelineEntry(
            seq=fact.seq,
            kind=fact.kind.value,
            at=fact.occurred_at,
            reported_at=fact.recorded_at if late else None,
            source=fact.source.split(":", 1)[0],
            description=describe(fact),
            superseded=superseded(snapshot, fact),
        ))
    session.commit()
    following = f"{case_location(case.id)}/timeline?{urlencode({'cursor': page.next_cursor, 'limit': limit})}" if page.next_cursor else None
    return TimelinePage(
        case_id=case.id, status=CaseStatus(case.status), version=case.version, items=entries,
        next_cursor=page.next_cursor, next=following,
    )


# A fact reported within this long of happening is shown with one time only.
REPORTED_LATE_SECONDS = 60
