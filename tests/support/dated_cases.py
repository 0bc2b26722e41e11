"""Cases whose history is dated back, written straight to referral_api's database (tests only).

A case accepted weeks ago whose deadline passed while no check ran (the scheduler off, say):
each fact is recorded, and the breach rules applied, as at the time it happened. This is how
the tests get a case that is due on the real clock, the only clock the CLI's checks act on.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from pydantic import TypeAdapter
from sqlalchemy import Engine
from sqlmodel import Session

from diversion_common import actors
from diversion_common.contracts import ProviderEvent
from diversion_common.credentials import Principal, Role
from referral_api.case_events.recording import apply_breach_rules
from referral_api.case_log import service as case_log
from referral_api.cases.schemas import ReferralCreate
from referral_api.cases.service import build_case
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import FactKind, police_source, provider_fact_from_event
from support.referrals import adult_referral

POLICE = Principal(client_id=uuid.UUID(int=100), name="dated police system", role=Role.police, force="thames-valley")
PROVIDER = uuid.UUID(int=1)
_EVENT = TypeAdapter(ProviderEvent)


def accepted_adult_case(engine: Engine, accepted_at: datetime) -> uuid.UUID:
    """An adult's case referred, routed and accepted by ``accepted_at``; no check run since."""
    referred_at = accepted_at - timedelta(hours=2)
    body = adult_referral()
    body["encounter"]["occurred_at"] = (referred_at - timedelta(hours=2)).isoformat()
    case = build_case(ReferralCreate.model_validate(body), POLICE, referred_at)
    acceptance = provider_fact_from_event(
        _EVENT.validate_python({"type": "referral.accepted", "data": {"case_id": str(case.id), "occurred_at": accepted_at}}),
        PROVIDER, f"wh-{uuid.uuid4()}", 1, accepted_at,  # seq and recorded_at: record() sets its own
    )
    history = [
        (FactKind.referral_received, referred_at, police_source(POLICE.client_id), str(case.id), {"pathway": case.pathway, "needs_yju": False}),
        (FactKind.routed, referred_at + timedelta(hours=1), case_log.GATEWAY_SOURCE, str(uuid.uuid4()),
         {"provider_id": str(PROVIDER), "reason": "covers the district"}),
        (acceptance.kind, acceptance.occurred_at, acceptance.source, acceptance.source_id, acceptance.data),
    ]
    with Session(engine, expire_on_commit=False) as session:
        record_dated(session, case, history)
        session.commit()
    return case.id


DatedFact = tuple[FactKind, datetime, str, str, dict]


def record_dated(session: Session, case: Case, history: list[DatedFact]) -> None:
    """Add the new case and append its history, each fact as at its time with the breach rules
    applied then (as the scheduler would have); the caller commits."""
    session.add(case)
    session.flush()
    for kind, at, source, source_id, data in history:
        police_said = kind is FactKind.referral_received  # as intake records it: with the police client's id
        case_log.append(
            session, case, kind=kind, occurred_at=at, source=source, source_id=source_id, data=data,
            actor=POLICE.client_id if police_said else None,
        )
        apply_breach_rules(session, case, at, actor=actors.SCHEDULER)
