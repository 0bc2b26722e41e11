"""Delivery rows: created in the caller's transaction, moved on by each try, shown to the admin.

Every function takes the service's tables (``DeliveryTables`` or one table class),
so both services run the same rules on their own rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common import pagination
from diversion_common.database import as_utc, utcnow
from diversion_common.erasure import erase_payload
from diversion_common.messaging import enqueue
from diversion_common.problems import Conflict, NotFound
from diversion_common.webhooks.policy import CircuitPolicy, Outcome, RetryPolicy
from diversion_common.webhooks.schemas import AttemptPublic
from diversion_common.webhooks.tables import AttemptFields, CircuitFields, DeliveryFields, DeliveryStatus, DeliveryTables

D = TypeVar("D", bound=DeliveryFields)
Public = TypeVar("Public", bound=BaseModel)

# What an admin may send again: never one still waiting, nor one a service has set aside.
REDELIVERABLE = (DeliveryStatus.dead.value, DeliveryStatus.delivered.value)


def new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def add_delivery(
    session: Session, table: type[D], *, event_type: str, payload: dict[str, Any], status: str = DeliveryStatus.pending.value, **columns: Any
) -> D:
    """Add a delivery to the caller's transaction; a worker waiting on the table wakes on its commit.

    ``columns`` are the table's own: its endpoint column, and e.g. the case it is about.
    """
    now = utcnow()
    delivery = table(
        id=new_delivery_id(),
        event_type=event_type,
        payload=payload,
        status=status,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        **columns,
    )
    # One waiting for a pull-mode provider's pull is nothing for a worker to send: waking it would
    # only have it look (on SQLite, a turn at the one writer for each referral).
    enqueue(session, delivery, wake=status == DeliveryStatus.pending.value)
    return delivery


@dataclass(frozen=True)
class AttemptResult:
    delivery_id: str
    endpoint_id: Hashable
    started_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    outcome: Outcome
    retry_after: float | None


def record_attempt(session: Session, tables: DeliveryTables, result: AttemptResult, retry: RetryPolicy, circuit: CircuitPolicy) -> str:
    """Log the try, move the delivery on, and update the endpoint's circuit. Returns the new status."""
    now = utcnow()
    delivery = session.get(tables.delivery, result.delivery_id)
    assert delivery is not None
    delivery.attempts += 1
    session.add(
        tables.attempt(
            delivery_id=delivery.id,
            attempt=delivery.attempts,
            started_at=result.started_at,
            status_code=result.status_code,
            latency_ms=round(result.latency_ms, 2),
            error=result.error,
            outcome=result.outcome.value,
        )
    )
    _update_circuit(session, tables.circuit, result, circuit, now)
    if delivery.status != DeliveryStatus.pending.value:
        return delivery.status  # set aside while in flight (e.g. cancelled): keep the record of the try only
    delivery.updated_at = now
    if result.outcome is Outcome.delivered:
        delivery.status = DeliveryStatus.delivered.value
        delivery.delivered_at = now
        delivery.last_error = None
        erase_payload(delivery)  # the endpoint has it: keep only the digest of what it got
    elif result.outcome is Outcome.retry:
        delay = retry.delay(delivery.attempts, result.retry_after)
        delivery.last_error = result.error or f"HTTP {result.status_code}"
        if delay is None:
            delivery.status = DeliveryStatus.dead.value
        else:
            delivery.next_attempt_at = now + delay
    else:
        delivery.status = DeliveryStatus.dead.value
        delivery.last_error = f"HTTP {result.status_code}: refused, not retried"
    session.add(delivery)
    return delivery.status


def _locked_circuit(session: Session, table: type[CircuitFields], endpoint_id: Hashable) -> CircuitFields:
    """The endpoint's circuit row, locked until commit, so concurrent tries count every failure."""
    circuit = session.get(table, endpoint_id, with_for_update=True)
    if circuit is None:
        try:
            with session.begin_nested():
                session.add(table(**{table.endpoint_column: endpoint_id}))
        except IntegrityError:
            pass  # another worker made it first
        circuit = session.get(table, endpoint_id, with_for_update=True, populate_existing=True)
    assert circuit is not None
    return circuit


def _update_circuit(session: Session, table: type[CircuitFields], result: AttemptResult, policy: CircuitPolicy, now: datetime) -> None:
    circuit = _locked_circuit(session, table, result.endpoint_id)
    if result.outcome is Outcome.retry:
        circuit.consecutive_failures += 1
        pause = policy.pause_after(circuit.consecutive_failures)
        circuit.paused_until = now + pause if pause else None
    else:
        # Any answer other than a failure means the endpoint is up again.
        circuit.consecutive_failures = 0
        circuit.paused_until = None
    circuit.updated_at = now
    session.add(circuit)


def circuits(session: Session, table: type[CircuitFields]) -> dict[Hashable, CircuitFields]:
    """Endpoints with recent failures, by id."""
    return {c.endpoint_id(): c for c in session.scalars(select(table).where(table.consecutive_failures > 0))}


# Rebuilds, from what the service holds now, the payload of a delivery whose own was erased
# once delivered; None when it cannot (or must not) be rebuilt.
Rebuild = Callable[[Session, Any], "dict[str, Any] | None"]


class ContentErased(Conflict):
    slug = "content-erased"
    title = "The message's content is no longer held"


def redeliver(session: Session, delivery: DeliveryFields, rebuild: Rebuild | None = None) -> DeliveryFields:
    """Give a dead (or delivered) delivery a fresh schedule, under the same webhook-id.

    A delivered message's payload was erased (only its digest is kept): it goes again only
    when the service can ``rebuild`` it from what it holds now; otherwise it is refused.
    """
    if delivery.payload is None:
        rebuilt = rebuild(session, delivery) if rebuild is not None else None
        if rebuilt is None:
            raise ContentErased(
                "a delivered message's content is erased once delivered and cannot be rebuilt: "
                "the receiver reads the current state through the API instead"
            )
        delivery.payload = rebuilt
    delivery.status = DeliveryStatus.pending.value
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    delivery.updated_at = utcnow()
    enqueue(session, delivery)
    return delivery


def erase_settled_payloads(session: Session, table: type[D], *where: Any, still_open: tuple[str, ...] = (DeliveryStatus.pending.value,)) -> int:
    """Erase the payloads of the deliveries matching ``where`` that are not waiting to be sent
    (``still_open``), keeping their digests; e.g. a case's, once it has ended. Returns how many."""
    rows = list(
        session.scalars(select(table).where(*where, table.payload.is_not(None), table.status.not_in(still_open)))  # type: ignore[union-attr,attr-defined]
    )
    for delivery in rows:
        erase_payload(delivery)
        session.add(delivery)
    return len(rows)


def must_be_redeliverable(delivery: DeliveryFields) -> None:
    if delivery.status not in REDELIVERABLE:
        raise Conflict(f"a {delivery.status} delivery cannot be redelivered", delivery_status=delivery.status)


# --- reading, for the admin -------------------------------------------------------


def get_delivery(session: Session, table: type[D], delivery_id: str) -> D:
    delivery = session.get(table, delivery_id)
    if delivery is None:
        raise NotFound("no such delivery")
    return delivery


def to_public(delivery: DeliveryFields, model: type[Public]) -> Public:
    """The delivery as ``model`` shows it: the columns the model names, times in UTC.

    ``next_attempt_at`` only while it is pending: otherwise it means nothing (or is a lease).
    """
    fields = {name: getattr(delivery, name) for name in model.model_fields if hasattr(delivery, name)}
    fields = {name: as_utc(value) if isinstance(value, datetime) else value for name, value in fields.items()}
    if "next_attempt_at" in fields and delivery.status != DeliveryStatus.pending.value:
        fields["next_attempt_at"] = None
    return model.model_validate(fields)


def attempts_log(session: Session, table: type[AttemptFields], delivery_id: str) -> list[AttemptPublic]:
    attempts = session.scalars(select(table).where(table.delivery_id == delivery_id).order_by(table.attempt))  # type: ignore[arg-type]
    return [
        AttemptPublic(
            attempt=a.attempt, started_at=as_utc(a.started_at), status_code=a.status_code,
            latency_ms=a.latency_ms, error=a.error, outcome=a.outcome,
        )
        for a in attempts
    ]


def page_of_deliveries(
    session: Session, table: type[D], *, status: str | None, endpoint_id: Hashable | None, cursor: str | None, limit: int
) -> pagination.Page[D]:
    """Oldest first, optionally one status or one endpoint's."""
    query = select(table)
    if status is not None:
        query = query.where(table.status == status)
    if endpoint_id is not None:
        query = query.where(table.endpoint() == endpoint_id)
    return pagination.keyset_page(
        session, query, at=table.created_at, key=table.id, cursor=cursor, limit=limit  # type: ignore[arg-type]
    )
