"""Storage limitation at the gateway: nothing about a person outlives the case's end by long.

A case's referral is erased when the case ends (privacy/erasure.py). This job is the
sweep behind it, for cases ended more than the retention period ago (default 365 days,
``PROVIDER_GATEWAY_RETENTION_DAYS``, as referral_api's): anything still holding a
person's details is erased: the referral if it is still there (a case that ended before
erasure on end existed), a referral never delivered and left waiting is cancelled, every
settled delivery keeps only its digest, and a message still unsent a year after the case
ended is set aside unsent (``diversion_common.erasure.settle_messages``). Receipts of
providers' events hold no free text and stay, as do routing decisions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session
import structlog

from diversion_common.database import as_utc
from diversion_common.erasure import checkpoint_after_erasure, overwrite_erased_bytes, settle_messages
from diversion_common.retention_schedule import DailyRetention
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.deliveries.service import REFERRAL_CREATED
from provider_gateway.deliveries.tables import Delivery
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.privacy.erasure import erase_case_copy
from provider_gateway.config import Settings

log = structlog.get_logger("diversion.provider_gateway.retention")

ENDED = (GatewayCaseStatus.withdrawn.value, GatewayCaseStatus.ended.value)
BATCH = 100


@dataclass(frozen=True)
class RetentionRun:
    cutoff: datetime
    dry_run: bool
    case_ids: list[uuid.UUID]

    @property
    def cases(self) -> int:
        return len(self.case_ids)


def _holds_personal_data(case_id: Any) -> Any:
    """Something about the case still carries a person's details."""
    delivery = select(Delivery.id).where(
        Delivery.case_id == case_id, Delivery.payload.is_not(None), Delivery.event_type == REFERRAL_CREATED  # type: ignore[union-attr]
    )
    message = select(OutboxMessage.id).where(OutboxMessage.aggregate_id == case_id, OutboxMessage.payload.is_not(None))  # type: ignore[union-attr]
    return GatewayCase.provider_payload.is_not(None) | delivery.exists() | message.exists()  # type: ignore[union-attr]


def _due(cutoff: datetime) -> tuple[Any, ...]:
    return (
        GatewayCase.status.in_(ENDED),  # type: ignore[attr-defined]
        GatewayCase.updated_at < cutoff,
        _holds_personal_data(GatewayCase.case_id),
    )


def erase_ended_case(session: Session, case: GatewayCase, now: datetime) -> None:
    erase_case_copy(session, case, now)
    settle_messages(session, OutboxMessage, case.case_id, now)


def run_retention(
    engine: Engine, *, retention_days: int, now: datetime, dry_run: bool = False,
    audit: Callable[[Session, list[uuid.UUID]], None] | None = None,
) -> RetentionRun:
    cutoff = now - timedelta(days=retention_days)
    with Session(engine) as session:
        due = list(session.scalars(select(GatewayCase.case_id).where(*_due(cutoff)).order_by(GatewayCase.updated_at)))  # type: ignore[arg-type]
    if dry_run:
        return RetentionRun(cutoff, True, due)
    erased: list[uuid.UUID] = []
    for start in range(0, len(due), BATCH):
        with Session(engine) as session:
            overwrite_erased_bytes(session)
            cases = session.scalars(
                select(GatewayCase).where(GatewayCase.case_id.in_(due[start:start + BATCH]), *_due(cutoff)).with_for_update()  # type: ignore[attr-defined]
            )
            batch = []
            for case in cases:
                erase_ended_case(session, case, now)
                batch.append(case.case_id)
            if audit is not None and batch:  # in the batch's transaction, before it commits
                audit(session, batch)
            session.commit()
            erased += batch
    if erased:
        checkpoint_after_erasure(engine)
    log.info("retention run", cases_erased=len(erased), cutoff=as_utc(cutoff).isoformat())
    return RetentionRun(cutoff, False, erased)


def daily_retention(engine: Engine, settings: Settings) -> DailyRetention:
    """This service's retention, run by itself once a day (diversion_common/retention_schedule.py)."""
    return DailyRetention(
        engine, lambda engine, now: run_retention(engine, retention_days=settings.retention_days, now=now), settings.retention_hour_utc
    )
