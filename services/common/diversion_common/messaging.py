"""The transactional outbox and the de-duplicating inbox between our services.

A service writes the messages it must send in the same transaction as the
change that causes them (``enqueue``). A relay thread sends them afterwards,
with retries, to the other service's ``/internal/v1/messages`` endpoint, where
``InboxFields`` rows make a repeat change nothing. A crash between commit and
send loses nothing: the row is still there and its lease runs out.
"""

from __future__ import annotations

import random
import threading
import uuid
from functools import cache
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from dataclasses import dataclass
import httpx
import structlog

from pydantic import BaseModel, Field as PydanticField, ValidationError
from sqlalchemy import JSON, DateTime, Engine, Insert, Select, Update, bindparam, case, event, null, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Field, Session, SQLModel

from diversion_common.audit.recording import rides_on
from diversion_common.contracts import code
from diversion_common.database import as_utc, connections_held_here, is_sqlite, utcnow
from diversion_common.erasure import sha256_of
from diversion_common.heartbeat import Heartbeat
from diversion_common.observability import REQUEST_ID_HEADER, current_request_id, handling
from diversion_common.problems import Conflict, FieldError, ValidationFailed, pointer_for
from diversion_common.slow_clients import CLIENT_IDLE_SECONDS
from diversion_common.webhooks.policy import parse_retry_after
from diversion_common.wire_types import DateTime as WireDateTime

log = structlog.get_logger("diversion.outbox")

TOPIC_LENGTH = 100  # the outbox's and the inbox's topic columns
REQUEST_ID_LENGTH = 36  # an X-Request-ID as we keep it: a UUID, canonical (diversion_common/observability.py)


class MessageEnvelope(BaseModel):
    """What travels between the services."""

    id: uuid.UUID
    topic: code(TOPIC_LENGTH) = PydanticField(examples=["case.routing_requested"])
    aggregate_id: uuid.UUID
    payload: dict[str, Any]
    created_at: WireDateTime
    request_id: uuid.UUID | None = PydanticField(
        default=None, description="The X-Request-ID of the call that caused it: what the receiver's work on it carries."
    )


class MessageReceipt(BaseModel):
    id: uuid.UUID
    duplicate: bool
    result: dict[str, Any] | None = PydanticField(default=None, description="What the handler answered, for topics that answer.")


class MessageBatch(BaseModel):
    messages: list[MessageEnvelope] = PydanticField(min_length=1, max_length=100)


class BatchReceipt(BaseModel):
    id: uuid.UUID
    applied: bool = PydanticField(description="True when applied now or before (a repeat); false when refused.")
    duplicate: bool = False
    problem: str | None = PydanticField(default=None, description="Why a refused message was refused.")
    refusal_code: str | None = PydanticField(default=None, description="A refused message's reason, as a code.")
    retryable: bool = PydanticField(
        default=False,
        description="A refused message that may apply later (it waits for another fact): its sender may send it again.",
    )
    result: dict[str, Any] | None = PydanticField(default=None, description="What the handler answered, for topics that answer.")


class BatchReceipts(BaseModel):
    receipts: list[BatchReceipt]


class OutboxFields(SQLModel):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    topic: str = Field(max_length=TOPIC_LENGTH)
    aggregate_id: uuid.UUID = Field(index=True)
    # Erased once the peer has answered (sent or refused), its digest kept (diversion_common/erasure.py):
    # it can hold a person's details, and nothing reads it after.
    payload: dict[str, Any] | None = Field(sa_type=JSON(none_as_null=True))  # type: ignore[call-overload]
    payload_sha256: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    available_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    attempts: int = 0
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)  # type: ignore[call-overload]
    # The peer refused it for good (e.g. a payload it cannot apply): kept with its reason, never retried.
    refused_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    last_error: str | None = Field(default=None, max_length=500)
    # The X-Request-ID of the call (or of the message) that caused it; none when a scheduled job did.
    request_id: str | None = Field(default=None, max_length=REQUEST_ID_LENGTH)


class InboxFields(SQLModel):
    message_id: uuid.UUID = Field(primary_key=True)
    topic: str = Field(max_length=TOPIC_LENGTH)
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


# --- waking the relay promptly after a commit -------------------------------

_wake_events: dict[str, threading.Event] = {}
_SESSION_KEY = "outbox_tables_written"


def wake_event(table: str) -> threading.Event:
    """The event set whenever a transaction that added rows to ``table`` commits."""
    return _wake_events.setdefault(table, threading.Event())


def enqueue(session: Session, row: SQLModel, *, wake: bool = True) -> None:
    """Add a row to the caller's transaction; whoever waits on its table wakes on commit (unless
    ``wake`` is False: a row nobody will send).

    A row that keeps a request id (an outbox message, a delivery) gets the one this code runs
    for, unless it has one: whoever sends it carries it on, so one id follows a case's messages.
    """
    if hasattr(row, "request_id") and row.request_id is None:
        row.request_id = current_request_id()
    session.add(row)
    if wake:
        session.info.setdefault(_SESSION_KEY, set()).add(type(row).__tablename__)


@event.listens_for(Session, "after_commit")
def _wake_relays(session: Session) -> None:
    for table in session.info.pop(_SESSION_KEY, ()):
        wake = _wake_events.get(table)
        if wake is not None:
            wake.set()


@event.listens_for(Session, "after_rollback")
def _forget_writes(session: Session) -> None:
    session.info.pop(_SESSION_KEY, None)


# --- the relay ---------------------------------------------------------------

# Sends a batch; returns the peer's receipt for each message. Raises DeliveryFailed when the
# batch as a whole did not get through (unreachable, 5xx...), so every message is tried again.
Sender = Callable[[list[MessageEnvelope]], list[BatchReceipt]]

# Told, inside the transaction that marks it, how the peer answered a message: lets the
# sender act on what the peer decided (e.g. record the outcome of a deferred event).
OutcomeHook = Callable[[Session, MessageEnvelope, BatchReceipt], None]


class ConnectionHeldAcrossCall(RuntimeError):
    """A fault of ours: commit (or close the session) before calling the other service."""


class DeliveryFailed(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def http_sender(base_url: str, api_key: str, timeout: float = 5.0) -> Sender:
    """Send envelopes to another service's internal inbox over authenticated HTTP."""
    # httpx keeps an idle connection 5 s by default, as long as the other service's listener: a send
    # on a connection idle that long could race the listener closing it and fail (the event then 202).
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=CLIENT_IDLE_SECONDS)  # httpx's own, but the expiry
    return client_sender(httpx.Client(base_url=base_url, timeout=timeout, limits=limits), api_key)


def client_sender(client: httpx.Client, api_key: str) -> Sender:
    """Send envelopes to the internal inbox the client points at (any httpx client, e.g. a test's)."""
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}

    def send(envelopes: list[MessageEnvelope]) -> list[BatchReceipt]:
        if connections_held_here():
            # The other service may need a moment (or its own pool); every user of ours would wait too.
            raise ConnectionHeldAcrossCall("a database connection is held across a call to the other service")
        try:
            response = client.post(
                "/internal/v1/messages/batch",
                content=MessageBatch(messages=envelopes).model_dump_json(),
                headers={**headers, **_batch_request_id(envelopes)},
            )
        except httpx.HTTPError as exc:
            raise DeliveryFailed(type(exc).__name__) from exc
        if response.status_code >= 300:
            raise DeliveryFailed(f"HTTP {response.status_code}", _peer_retry_after(response.headers.get("Retry-After")))
        try:
            return BatchReceipts.model_validate_json(response.content).receipts
        except ValidationError:
            raise DeliveryFailed("unreadable receipts") from None

    return send


def _batch_request_id(envelopes: list[MessageEnvelope]) -> dict[str, str]:
    """The batch's X-Request-ID when its messages share one (its access line then names it too);
    each message carries its own either way."""
    ids = {envelope.request_id for envelope in envelopes}
    [only] = ids if len(ids) == 1 else [None]
    return {REQUEST_ID_HEADER: str(only)} if only is not None else {}


# The peer is our own service: honour its Retry-After, but never wait long on it.
LONGEST_PEER_RETRY_AFTER_SECONDS = 60.0


def _peer_retry_after(value: str | None) -> float | None:
    seconds = parse_retry_after(value)
    return None if seconds is None else min(seconds, LONGEST_PEER_RETRY_AFTER_SECONDS)


def backoff_seconds(attempts: int, base: float = 0.25, cap: float = 5.0) -> float:
    """Exponential back-off with full jitter, capped low: the peer is our own service
    and the messages must flow as soon as it is back."""
    return random.uniform(0, min(cap, base * 2 ** max(attempts - 1, 0)))


class OutboxRelay:
    """Sends a service's outbox rows, in order per aggregate, until each is sent or refused.

    Rows are claimed with a lease (``available_at`` pushed forward) in a short
    transaction, sent outside any transaction, then marked. A relay killed
    mid-send leaves a claimed row whose lease expires, so another relay (or
    the same after restart) sends it again; the receiver's inbox drops the repeat.
    A pass that fails mid-way gives its claims back at the start of its next pass.
    A message the peer refuses is kept with its reason and not sent again.
    """

    def __init__(
        self,
        engine: Engine,
        table: type[OutboxFields],
        send: Sender,
        *,
        poll_interval: float = 1.0,
        lease_seconds: float = 30.0,
        batch_size: int = 50,
        max_batch_bytes: int = 512 * 1024,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        self.engine = engine
        self.table = table
        self.send = send
        self.poll_interval = poll_interval
        self.lease = timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.max_batch_bytes = max_batch_bytes
        self.on_outcome = on_outcome
        self._wake = wake_event(table.__tablename__)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # The ids a pass claimed and its lease's end, while the pass runs; still set after it failed.
        self._abandoned: tuple[list[uuid.UUID], datetime] | None = None
        self.heartbeat = Heartbeat("outbox_relay", poll_interval)

    def _pending(self):  # type: ignore[no-untyped-def]
        return _unanswered(self.table)

    # -- one pass, usable directly in tests --
    def claim_due(self) -> list[MessageEnvelope]:
        return self._claim_due()[0]

    def _claim_due(self) -> tuple[list[MessageEnvelope], datetime]:
        """Lease the oldest sendable messages: each the earliest unsent one of its aggregate.

        A message whose aggregate has an earlier unsent one (backing off, leased by another
        relay, or locked by one right now) is not sendable, and is skipped in the query itself,
        so it takes no place in the batch: a pass sends whatever else is due. One message per
        aggregate per batch, because the peer applies a batch's messages independently (one
        refused or unanswered does not stop the next), which could apply a case's messages out of order.
        """
        table = self.table
        now = utcnow()
        lease_until = now + self.lease
        earlier = aliased(table)
        earlier_unsent = select(earlier.id).where(  # type: ignore[call-overload]
            earlier.aggregate_id == table.aggregate_id,
            _unanswered(earlier),
            earlier.created_at < table.created_at,
        )
        with Session(self.engine) as session:
            query = (
                select(table)
                .where(self._pending(), table.available_at <= now, ~earlier_unsent.exists())  # type: ignore[arg-type]
                .order_by(table.created_at, table.id)  # type: ignore[arg-type]
                .limit(self.batch_size)
            )
            if not is_sqlite(str(self.engine.url)):
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            envelopes: list[MessageEnvelope] = []
            taken: set[uuid.UUID] = set()  # two messages of one aggregate written at the same instant
            size = 0
            for row in rows:
                if row.aggregate_id in taken:
                    continue
                envelope = MessageEnvelope(
                    id=row.id, topic=row.topic, aggregate_id=row.aggregate_id, payload=row.payload, created_at=as_utc(row.created_at),
                    request_id=row.request_id,
                )
                size += len(envelope.model_dump_json())
                if envelopes and size > self.max_batch_bytes:
                    break
                taken.add(row.aggregate_id)
                row.available_at = lease_until
                envelopes.append(envelope)
            session.commit()
        return envelopes, lease_until

    def may_send_now(self, session: Session, aggregate_id: uuid.UUID, created_at: datetime) -> bool:
        """Whether a message of the aggregate written now may go at once, in the caller's thread:
        not while an earlier one is unsent (the relay sends them in order)."""
        earlier = session.connection().execute(_earlier_unsent(self.table), {"aggregate": aggregate_id, "before": created_at}).first()
        return earlier is None

    def send_now(self, envelope: MessageEnvelope) -> bool:
        """Send a message the caller has just committed and leased to itself; True once the
        peer answered. If it did not, the lease runs out and the relay sends it later."""
        return any(receipt.id == envelope.id for receipt in self._send_and_record([envelope]))

    def relay_once(self) -> int:
        """Send what is due, as one batch; return how many the peer applied.

        A pass that fails (the database or the peer gone mid-pass) does not leave its claims
        leased for the whole lease: the next pass that reaches the database gives them back
        first, so they go at once. One the peer may have applied goes again under its own id,
        and the peer's inbox drops the repeat.
        """
        self._release_abandoned()
        claimed, lease_until = self._claim_due()
        if not claimed:
            return 0
        self._abandoned = ([e.id for e in claimed], lease_until)
        applied = self.deliver(claimed)
        self._abandoned = None
        return applied

    def _release_abandoned(self) -> None:
        """Make the claims of a failed pass due again, unless answered or claimed anew since."""
        if self._abandoned is None:
            return
        message_ids, lease_until = self._abandoned
        now = utcnow()
        if now < lease_until:
            with Session(self.engine) as session:
                # Our lease, and nobody's since: another relay claims only once it ran out, and
                # then leases past it; a row answered since is no longer pending.
                session.execute(
                    update(self.table)
                    .where(self.table.id.in_(message_ids), self._pending(), self.table.available_at <= lease_until)  # type: ignore[attr-defined,arg-type]
                    .values(available_at=now)
                )
                session.commit()
        self._abandoned = None

    def deliver(self, envelopes: list[MessageEnvelope]) -> int:
        """Send these messages now and record the peer's answers; return how many it applied.

        Raises nothing: a batch that did not get through is scheduled again with back-off.
        """
        return sum(receipt.applied for receipt in self._send_and_record(envelopes))

    def _send_and_record(self, envelopes: list[MessageEnvelope]) -> list[BatchReceipt]:
        """The peer's answers, recorded (each answered message is marked sent or refused); none
        when the batch did not get through."""
        try:
            receipts = self.send(envelopes)
        except DeliveryFailed as failure:
            self._mark_failed([e.id for e in envelopes], failure.reason, failure.retry_after)
            return []
        self.record_receipts(envelopes, receipts)
        return receipts

    def record_receipts(self, envelopes: list[MessageEnvelope], receipts: list[BatchReceipt]) -> None:
        """Mark each answered message sent (applied, or a repeat) or refused, in one transaction."""
        by_id = {r.id: r for r in receipts}
        now = utcnow()
        with Session(self.engine) as session:
            connection = session.connection()
            for envelope in envelopes:
                receipt = by_id.get(envelope.id)
                if receipt is None:
                    continue  # unanswered: its lease runs out and it is sent again
                # One conditional UPDATE, not a load and a flush (through the ORM this was a fifth of a
                # provider event's CPU in the gateway: docs/PERFORMANCE.md). Answered either way, it is
                # never sent again, so its content is not kept, only its digest (diversion_common/erasure.py).
                # A refused one keeps its topic, case, reason and digest for the administrator.
                answered = connection.execute(_answered_statement(self.table, receipt.applied), {
                    "message_id": envelope.id, "now": now, "digest": sha256_of(envelope.payload),
                    "error": None if receipt.applied else (receipt.problem or "refused")[:500],
                }).rowcount
                if not answered:
                    continue  # answered already, by another pass
                if receipt.applied:
                    log.info("outbox message sent", message_id=str(envelope.id), topic=envelope.topic, request_id=_text(envelope.request_id))
                else:
                    log.warning(
                        "outbox message refused by the peer", message_id=str(envelope.id), topic=envelope.topic, request_id=_text(envelope.request_id)
                    )
                if self.on_outcome is not None:
                    self.on_outcome(session, envelope, receipt)
            session.commit()

    def _mark_failed(self, message_ids: list[uuid.UUID], reason: str, retry_after: float | None) -> None:
        """Schedule the next try of messages that did not get through, with back-off."""
        with Session(self.engine) as session:
            rows = list(session.scalars(
                select(self.table).where(self.table.id.in_(message_ids), self._pending())  # type: ignore[attr-defined]
            ))
            for row in rows:
                row.attempts += 1
                delay = retry_after if retry_after is not None else backoff_seconds(row.attempts)
                row.available_at = utcnow() + timedelta(seconds=delay)
                row.last_error = reason[:500]
            session.commit()
            # One line per message, each with the id of the call that caused it.
            for row in rows:
                log.warning("outbox send failed", message_id=str(row.id), topic=row.topic, reason=reason[:200], request_id=row.request_id)

    # -- the background loop --
    def start(self) -> None:
        self._stop.clear()
        self.heartbeat.beat(passed=False)
        self._thread = threading.Thread(target=self._run, name=f"relay-{self.table.__tablename__}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                busy = self.relay_once() > 0
            except Exception as exc:  # the loop must outlive a database hiccup
                log.error("outbox relay pass failed", error_type=type(exc).__name__)
                busy = False
            self.heartbeat.beat()
            if not busy:
                self._wake.wait(self.poll_interval)


def record_inbox(session: Session, inbox_table: type[InboxFields], envelope: MessageEnvelope) -> bool:
    """Record a received message id; False when it was seen before (a repeat)."""
    # One statement built once, on the session's connection: every message pays for it. A copy
    # committed first by another call makes it insert nothing (on PostgreSQL, once that commits).
    connection = session.connection()
    inserted = connection.execute(
        _inbox_insert(inbox_table, connection.dialect.name), {"message_id": envelope.id, "topic": envelope.topic, "received_at": utcnow()}
    ).first()
    if inserted is None:
        return False
    rides_on(session)  # the call's audit record commits with the message it brought
    return True


@cache
def _inbox_insert(inbox_table: type[InboxFields], dialect: str) -> Insert:
    table = inbox_table.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    # RETURNING says whether it inserted (psycopg gives no row count for it through SQLAlchemy).
    return insert.on_conflict_do_nothing(index_elements=[table.c.message_id]).returning(table.c.message_id)


class MessageRefused(Exception):
    """A handler cannot apply this message (e.g. it names no known case): the sender keeps it
    with this reason. Nothing is written, the inbox included. For good, unless ``retryable``:
    then it waits for another fact, and the same message sent again later may apply."""

    def __init__(self, reason: str, code: str = "refused", *, retryable: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable


class MessageRefusedProblem(Conflict):
    slug = "message-refused"
    title = "The message cannot be applied"


Answer = BaseModel | None


@dataclass(frozen=True)
class TopicHandler:
    """How a receiving service applies one topic: its payload's shape and the effect.

    ``apply`` may answer with a model (sent back in the receipt). ``on_duplicate``
    answers a repeat the same way, without applying anything again.
    """

    payload: type[BaseModel]
    apply: Callable[[Session, Any, MessageEnvelope], Answer]
    on_duplicate: Callable[[Session, Any], Answer] | None = None


def receive_batch(
    session: Session,
    inbox_table: type[InboxFields],
    batch: MessageBatch,
    handlers: dict[str, TopicHandler],
) -> BatchReceipts:
    """Apply each message in its own transaction; one refused message stops no other."""
    receipts = []
    for envelope in batch.messages:
        try:
            receipt = receive_message(session, inbox_table, envelope, handlers)
        except (ValidationFailed, MessageRefusedProblem) as problem:
            session.rollback()
            reasons = "; ".join(f"{e.pointer} {e.detail}" for e in problem.errors or [])
            receipts.append(
                BatchReceipt(
                    id=envelope.id, applied=False, problem=reasons or problem.detail or problem.title,
                    refusal_code=problem.extra.get("code") if isinstance(problem, MessageRefusedProblem) else "invalid",
                    retryable=bool(problem.extra.get("retryable", False)),
                )
            )
            continue
        receipts.append(BatchReceipt(id=envelope.id, applied=True, duplicate=receipt.duplicate, result=receipt.result))
    return BatchReceipts(receipts=receipts)


def receive_message(
    session: Session,
    inbox_table: type[InboxFields],
    envelope: MessageEnvelope,
    handlers: dict[str, TopicHandler],
) -> MessageReceipt:
    """Handle a message once: its id and its effects commit together.

    The work it causes (its log lines, the messages and notifications it adds) carries the id
    of the call that caused the message, not that of the call that brought it.
    """
    with handling(_text(envelope.request_id) or current_request_id()):
        return _receive_message(session, inbox_table, envelope, handlers)


def _receive_message(
    session: Session,
    inbox_table: type[InboxFields],
    envelope: MessageEnvelope,
    handlers: dict[str, TopicHandler],
) -> MessageReceipt:
    handler = handlers.get(envelope.topic)
    if handler is None:
        raise ValidationFailed(errors=[FieldError(pointer="/topic", detail="is not a topic this service handles")])
    try:
        payload = handler.payload.model_validate(envelope.payload)
    except ValidationError as exc:
        raise ValidationFailed(
            errors=[FieldError(pointer="/payload" + pointer_for(e["loc"]), detail=e["msg"]) for e in exc.errors()]
        ) from None
    try:
        if not record_inbox(session, inbox_table, envelope):
            return _duplicate(session, envelope, handler, payload)
        answer = handler.apply(session, payload, envelope)
        session.commit()
    except MessageRefused as refusal:
        session.rollback()
        log.warning("message refused", message_id=str(envelope.id), topic=envelope.topic, code=refusal.code, retryable=refusal.retryable)
        raise MessageRefusedProblem(refusal.reason, code=refusal.code, retryable=refusal.retryable) from None
    except IntegrityError:
        # The same message arrived twice at once and the other copy committed first.
        session.rollback()
        if session.get(inbox_table, envelope.id) is None:
            raise
        return _duplicate(session, envelope, handler, payload)
    log.info("message applied", message_id=str(envelope.id), topic=envelope.topic)
    return MessageReceipt(id=envelope.id, duplicate=False, result=_dumped(answer))


def _unanswered(columns: Any) -> Any:
    """A message the peer has not answered (neither sent nor refused): an outbox table's mapped
    class or its Core columns."""
    return columns.sent_at.is_(None) & columns.refused_at.is_(None)


@cache
def _earlier_unsent(table: Any) -> Select:
    columns = table.__table__.c
    return select(columns.id).where(
        _unanswered(columns), columns.aggregate_id == bindparam("aggregate"), columns.created_at < bindparam("before"),
    ).limit(1)


@cache
def _answered_statement(table: Any, applied: bool) -> Update:
    """Mark a pending message answered: sent (applied, or a repeat) or refused; its payload erased."""
    columns = table.__table__.c
    return (
        update(table.__table__)
        .where(columns.id == bindparam("message_id"), _unanswered(columns))
        .values({
            columns.sent_at if applied else columns.refused_at: bindparam("now"),
            columns.attempts: columns.attempts + 1,
            columns.last_error: bindparam("error"),
            columns.payload_sha256: case((columns.payload.is_not(None), bindparam("digest")), else_=columns.payload_sha256),
            columns.payload: null(),
        })
    )


def _text(request_id: uuid.UUID | None) -> str | None:
    return str(request_id) if request_id is not None else None


def _duplicate(session: Session, envelope: MessageEnvelope, handler: TopicHandler, payload: Any) -> MessageReceipt:
    answer = handler.on_duplicate(session, payload) if handler.on_duplicate else None
    session.commit()
    return MessageReceipt(id=envelope.id, duplicate=True, result=_dumped(answer))


def _dumped(answer: Answer) -> dict[str, Any] | None:
    return answer.model_dump(mode="json") if answer is not None else None
