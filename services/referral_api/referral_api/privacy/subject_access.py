"""Subject access (UK GDPR art. 15): everything referral_api holds about one person, for the administrator.

A person is found by a case id, or by name and date of birth as the referral gave them
(the date of birth narrows in the database; names compare ignoring case and spacing).
A case whose personal data retention has erased is found by its id only: nothing in it
names the person any more. Each export is recorded as a read of every case it covers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.audit.context import touched
from diversion_common.credentials import Principal
from diversion_common.database import as_utc, utcnow
from diversion_common.problems import NotFound
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case, CaseAccess
from referral_api.messaging.tables import OutboxMessage
from referral_api.callbacks.tables import CallbackDelivery
from referral_api.privacy.schemas import (
    HeldCase,
    HeldFact,
    HeldMessage,
    HeldNotification,
    HeldRead,
    SubjectAccessExport,
    SubjectAccessRequest,
)

EXPORT_ACTION = "subject-access"


def _normal(name: str) -> str:
    return " ".join(name.split()).casefold()


def _cases_of(session: Session, request: SubjectAccessRequest) -> list[Case]:
    if request.case_id is not None:
        case = session.get(Case, request.case_id)
        if case is None:
            raise NotFound("no such case")
        return [case]
    assert request.date_of_birth is not None and request.given_name and request.family_name
    born = Case.referral[("subject", "date_of_birth")].as_string()  # type: ignore[index]
    candidates = session.scalars(
        select(Case).where(born == request.date_of_birth.isoformat()).order_by(Case.created_at, Case.id)  # type: ignore[arg-type]
    )
    wanted = (_normal(request.given_name), _normal(request.family_name))
    return [
        case
        for case in candidates
        if case.referral is not None
        and (_normal(str(case.referral["subject"]["given_name"])), _normal(str(case.referral["subject"]["family_name"]))) == wanted
    ]


def _times(values: dict[str, Any]) -> dict[str, Any]:
    """SQLite gives back naive datetimes; every one we store is UTC."""
    return {key: as_utc(value) if isinstance(value, datetime) else value for key, value in values.items()}


def _held(session: Session, case: Case) -> HeldCase:
    facts = session.scalars(select(CaseFact).where(CaseFact.case_id == case.id).order_by(CaseFact.seq))  # type: ignore[arg-type]
    reads = session.scalars(select(CaseAccess).where(CaseAccess.case_id == case.id).order_by(CaseAccess.at, CaseAccess.id))  # type: ignore[arg-type]
    messages = session.scalars(
        select(OutboxMessage).where(OutboxMessage.aggregate_id == case.id).order_by(OutboxMessage.created_at)  # type: ignore[arg-type]
    )
    notifications = session.scalars(
        select(CallbackDelivery).where(CallbackDelivery.case_id == case.id).order_by(CallbackDelivery.created_at)  # type: ignore[arg-type]
    )
    columns = {name: getattr(case, name) for name in HeldCase.model_fields if hasattr(Case, name)}
    return HeldCase(
        **_times(columns),
        facts=[HeldFact.model_validate(_times(f.model_dump())) for f in facts],
        reads=[HeldRead(client_id=r.client_id, action=r.action, request_id=r.request_id, at=as_utc(r.at)) for r in reads],
        messages=[
            HeldMessage.model_validate(_times({name: getattr(m, name) for name in HeldMessage.model_fields})) for m in messages
        ],
        notifications=[
            HeldNotification.model_validate(_times({name: getattr(n, name) for name in HeldNotification.model_fields}))
            for n in notifications
        ],
    )


# Records the export as a read of each case it shows, in the export's transaction.
ReadRecorder = Callable[[Session, list[Case]], None]


def reads_by(principal: Principal, request_id: str | None) -> ReadRecorder:
    """An API client's export: a read of each case by the client (on the case's reads, as any read)."""

    def record(session: Session, cases: list[Case]) -> None:
        for case in cases:
            session.add(CaseAccess(case_id=case.id, client_id=principal.client_id, action=EXPORT_ACTION, request_id=request_id))

    return record


def export(session: Session, request: SubjectAccessRequest, record_reads: ReadRecorder) -> SubjectAccessExport:
    """One transaction: the export is recorded as a read of each case it shows, before it is read.

    ``record_reads``: ``reads_by`` a client; an operator's export (the CLI) is its audit row."""
    cases = _cases_of(session, request)
    record_reads(session, cases)
    session.flush()
    touched(case.id for case in cases)
    answer = SubjectAccessExport(
        exported_at=utcnow(),
        matched_by="case_id" if request.case_id is not None else "name_and_date_of_birth",
        cases=[_held(session, case) for case in cases],
        gateway="POST /v1/admin/subject-access on the provider gateway, with these case ids, exports its copy.",
    )
    session.commit()
    return answer
