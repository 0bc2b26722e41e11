"""What can be done with cases. Each public function is one transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.credentials import Principal
from diversion_common.database import as_utc, utcnow
from diversion_common.messaging import enqueue
from diversion_common.problems import FieldError, NotFound, ValidationFailed
from referral_api.cases import lifecycle
from referral_api.cases.lifecycle import CaseEvent, CaseStatus, Pathway
from referral_api.cases.outgoing import routing_requested, withdrawn_notice
from referral_api.cases.rules import intake_violations
from referral_api.cases.schemas import (
    CaseDetail,
    CasePage,
    CasePublic,
    HistoryEntry,
    ReferralCreate,
    WithdrawRequest,
)
from referral_api.cases.tables import Case, CaseAccess, CaseHistory, IdempotencyRecord
from referral_api.errors import CaseStatusConflict, DuplicateReferral, IdempotencyKeyReused


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
    violations = intake_violations(referral, force=principal.force, now=now, clock_skew=clock_skew)
    if violations:
        raise ValidationFailed(
            f"{len(violations)} field(s) break intake rules",
            errors=[FieldError(pointer=pointer, detail=detail) for pointer, detail in violations],
        )

    case = build_case(referral, principal, now)
    session.add(case)
    _record_transition(session, case, None, _intake_event(referral, case), principal.client_id)
    if lifecycle.needs_routing(CaseStatus(case.status)):
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
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key or reference won the race: answer as it did.
        session.rollback()
        earlier = _earlier_answer(session, principal, referral, idempotency_key, request_hash)
        if earlier is None:
            raise
        return earlier
    return IntakeResult(body=body, case_id=case.id, replayed=False)


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
    existing = session.scalars(
        select(Case.id).where(Case.force == principal.force, Case.police_reference == referral.police_reference)
    ).first()
    if idempotency_key is not None:
        record = session.get(IdempotencyRecord, (principal.client_id, idempotency_key))
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


def _intake_event(referral: ReferralCreate, case: Case) -> CaseEvent:
    return lifecycle.intake_event(Pathway(case.pathway), referral.previous_diversions)


def build_case(referral: ReferralCreate, principal: Principal, now: datetime) -> Case:
    """The case intake stores for a valid referral (not yet added to a session)."""
    encounter_date = lifecycle.encounter_date(referral.encounter.occurred_at)
    pathway = lifecycle.pathway_for(referral.subject.date_of_birth, encounter_date)
    status = lifecycle.next_status(None, lifecycle.intake_event(pathway, referral.previous_diversions))
    return Case(
        force=principal.force,
        police_reference=referral.police_reference,
        status=status.value,
        pathway=pathway.value,
        district=referral.encounter.district.value,
        encounter_at=referral.encounter.occurred_at,
        previous_diversions=referral.previous_diversions,
        age_at_encounter=lifecycle.age_on(referral.subject.date_of_birth, encounter_date),
        sex=referral.subject.sex.value,
        ethnicity=referral.subject.ethnicity.value,
        out_of_hours_wanted=referral.subject.contact_preferences.out_of_hours_appointments,
        referral=referral.model_dump(mode="json", by_alias=True),
        created_by=principal.client_id,
        created_at=now,
        updated_at=now,
    )


def _record_transition(
    session: Session,
    case: Case,
    from_status: CaseStatus | None,
    event: CaseEvent,
    actor: uuid.UUID | None,
    reason: str | None = None,
) -> None:
    session.add(
        CaseHistory(
            case_id=case.id,
            from_status=from_status.value if from_status else None,
            to_status=case.status,
            event=event.value,
            actor_client_id=actor,
            reason=reason,
            at=case.updated_at,
        )
    )


def apply_event(
    session: Session, case: Case, event: CaseEvent, actor: uuid.UUID | None, reason: str | None = None
) -> None:
    """Move a case by the lifecycle's rule and record the step; the caller commits."""
    current = CaseStatus(case.status)
    try:
        new_status = lifecycle.next_status(current, event)
    except lifecycle.IllegalTransition:
        raise CaseStatusConflict(f"a case in status {current.value} cannot take {event.value}", case_status=current.value) from None
    case.status = new_status.value
    case.updated_at = utcnow()
    session.add(case)
    _record_transition(session, case, current, event, actor, reason)


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


def to_detail(session: Session, case: Case) -> CaseDetail:
    history = session.scalars(
        select(CaseHistory).where(CaseHistory.case_id == case.id).order_by(CaseHistory.id)  # type: ignore[arg-type]
    )
    return CaseDetail(
        **to_public(case).model_dump(),
        history=[HistoryEntry(status=CaseStatus(h.to_status), event=h.event, at=as_utc(h.at), reason=h.reason) for h in history],
    )


def record_access(session: Session, principal: Principal, case_ids: list[uuid.UUID], action: str, request_id: str | None) -> None:
    for case_id in case_ids:
        session.add(CaseAccess(case_id=case_id, client_id=principal.client_id, action=action, request_id=request_id))


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
    session: Session, principal: Principal, case_id: uuid.UUID, request: WithdrawRequest
) -> CaseDetail:
    case = _force_case(session, principal, case_id, for_update=True)
    was_with_gateway = CaseStatus(case.status) in (
        CaseStatus.awaiting_routing, CaseStatus.routed, CaseStatus.unroutable, CaseStatus.accepted_by_provider
    )
    reason = request.reason.value + (f": {request.note}" if request.note else "")
    apply_event(session, case, CaseEvent.withdrawn, principal.client_id, reason)
    if was_with_gateway:
        enqueue(session, withdrawn_notice(case, request.reason.value))
    detail = to_detail(session, case)
    session.commit()
    return detail
