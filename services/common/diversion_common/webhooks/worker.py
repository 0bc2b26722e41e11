"""The delivery worker: sends due deliveries to their endpoints, signed (Standard Webhooks).

Several workers may run at once against PostgreSQL: a delivery is claimed with
``FOR UPDATE SKIP LOCKED`` and leased by pushing its ``next_attempt_at`` past
the longest a try can take, so no two workers send it at the same time. A
worker killed mid-send leaves the lease to run out; the delivery is then sent
again under the same ``webhook-id``, so the receiver can drop the repeat.
A worker told to stop (SIGTERM) lets the tries under way finish and records how they
went; a try it cuts short (still sending when the drain time is up, or on a second
SIGTERM) has its lease given back, so the delivery is due again at once, for any worker.
Each endpoint has its own concurrency limit and every try its timeout, so a
slow one does not hold up the others; a failing one is paused by its circuit.
Every connection goes only to an address that passed the target check
(``transport.py``), and a redelivery only to the URL it went to (``addressing.py``).

What an endpoint is (a provider, a police force) is the service's business: it
gives the worker an ``EndpointDirectory`` that lists the endpoints usable now.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, select, update
from sqlmodel import Session

from diversion_common.database import as_utc, is_sqlite, utcnow
from diversion_common.heartbeat import Heartbeat
from diversion_common.messaging import wake_event
from diversion_common.observability import REQUEST_ID_HEADER, handling
from diversion_common.signing import sign_headers
from diversion_common.start_up import start_up_objects_frozen
from diversion_common.webhooks import addressing, service
from diversion_common.webhooks.policy import CircuitPolicy, Outcome, RetryPolicy, classify, parse_retry_after
from diversion_common.webhooks.tables import DeliveryStatus, DeliveryTables
from diversion_common.webhooks.transport import CheckedTransport, RefusedTarget


# The failure class an attempt to a refused target records, in place of a status.
REFUSED_TARGET = "refused_target"
# How much of an answer's body is read, at most (it is never used).
ANSWER_READ_BYTES = 4096


@dataclass(frozen=True)
class Endpoint:
    """Where an endpoint's deliveries go now, and the secrets in force to sign them."""

    id: Hashable
    url: str
    secrets: tuple[str, ...]
    # Only deliveries of these event types are sent to it now (None: all); the rest wait.
    event_types: frozenset[str] | None = None


# Called in the claiming transaction: the endpoints that may be sent to at ``now`` (active,
# with a URL and at least one secret in force). Deliveries to any other endpoint wait.
EndpointDirectory = Callable[[Session, datetime], list[Endpoint]]


@dataclass(frozen=True)
class WorkerSettings:
    timeout_seconds: float = 10.0
    per_endpoint_concurrency: int = 4
    max_in_flight: int = 64
    # How soon to look again while a due delivery is held back (its endpoint's circuit paused,
    # or its endpoint not usable now). A try that comes due (a retry, a lease run out) is
    # waited for to the moment; a new one wakes the worker on commit.
    poll_seconds: float = 0.1
    # The longest wait when nothing is due: a delivery another process wrote (a command, another
    # instance) is found within it. Idle, a worker costs one query per wait.
    idle_seconds: float = 1.0
    batch_size: int = 100
    lease_seconds: float | None = None
    # How long a stopping worker waits for the tries under way (by default: as long as a try can take).
    drain_seconds: float | None = None
    retry: RetryPolicy = RetryPolicy()
    circuit: CircuitPolicy = CircuitPolicy()
    # Plain http and this machine's addresses: for local runs and tests only (<SERVICE>_ALLOW_LOOPBACK_WEBHOOKS).
    allow_loopback: bool = False

    @property
    def lease(self) -> timedelta:
        # Longer than any try can take, so a live worker never loses its claim.
        return timedelta(seconds=self.lease_seconds or self.timeout_seconds * 2 + 5)

    @property
    def drain(self) -> float:
        return self.timeout_seconds + 1 if self.drain_seconds is None else self.drain_seconds


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    endpoint_id: Hashable
    url: str
    secrets: tuple[str, ...]
    body: bytes
    # next_attempt_at as the claim set it: while it is still that, the lease is this worker's.
    leased_until: datetime
    # The call that caused it: sent as X-Request-ID, and on every log line about this try.
    request_id: str | None = None


class DeliveryWorker:
    def __init__(
        self,
        engine: Engine,
        tables: DeliveryTables,
        directory: EndpointDirectory,
        settings: WorkerSettings | None = None,
        *,
        user_agent: str,
        log: Any,
    ) -> None:
        self.engine = engine
        self.tables = tables
        self.directory = directory
        self.settings = settings or WorkerSettings()
        self.user_agent = user_agent
        self.log = log
        self.in_flight: dict[Hashable, int] = defaultdict(int)
        self._recording: set[str] = set()  # deliveries whose try is over, its outcome being recorded
        self._wake = wake_event(tables.delivery.__tablename__)  # type: ignore[attr-defined]
        self.heartbeat = Heartbeat("delivery_worker", max(self.settings.poll_seconds, self.settings.idle_seconds))

    def wake(self) -> None:
        self._wake.set()

    # --- claiming (a short transaction, in a thread) ---
    def claim(self, in_flight: dict[Hashable, int]) -> list[Claimed]:
        """Claim what may be sent now, given what is in flight (a snapshot taken on the loop).

        Each usable endpoint's due deliveries are claimed on their own, up to its
        free slots, so one endpoint's backlog never keeps another's waiting.
        """
        return self._claim(in_flight)[0]

    def _claim(self, in_flight: dict[Hashable, int]) -> tuple[list[Claimed], float]:
        """``claim``, and how long the loop may wait before it looks again if nothing was claimed."""
        settings, table = self.settings, self.tables.delivery
        room = settings.max_in_flight - sum(in_flight.values())
        if room <= 0:
            return [], settings.poll_seconds  # a try's end wakes the loop
        now = utcnow()
        claimed: list[Claimed] = []
        with Session(self.engine) as session:
            # The usual answer when idle, from the index alone: when the next try comes due.
            next_due = session.scalars(
                select(table.next_attempt_at).where(table.status == DeliveryStatus.pending.value)
                .order_by(table.next_attempt_at).limit(1)  # type: ignore[arg-type]
            ).first()
            until_due = None if next_due is None else (as_utc(next_due) - now).total_seconds()
            if until_due is None or until_due > 0:
                session.commit()
                return [], settings.idle_seconds if until_due is None else min(settings.idle_seconds, until_due)
            circuits = service.circuits(session, self.tables.circuit)
            for endpoint in self.directory(session, now):
                circuit = circuits.get(endpoint.id)
                if circuit is not None and circuit.paused_until is not None and as_utc(circuit.paused_until) > now:
                    continue
                probing = circuit is not None and settings.circuit.is_probing(circuit.consecutive_failures)
                slots = min((1 if probing else settings.per_endpoint_concurrency) - in_flight.get(endpoint.id, 0), room - len(claimed))
                if slots <= 0 or not endpoint.secrets:
                    continue
                query = (
                    select(table)
                    .where(table.endpoint() == endpoint.id, table.status == DeliveryStatus.pending.value, table.next_attempt_at <= now)
                    .order_by(table.next_attempt_at)  # type: ignore[arg-type]
                    .limit(slots)
                )
                if endpoint.event_types is not None:
                    query = query.where(table.event_type.in_(endpoint.event_types))  # type: ignore[attr-defined]
                if not is_sqlite(str(self.engine.url)):
                    query = query.with_for_update(skip_locked=True)
                for delivery in session.scalars(query):
                    if addressing.is_resend_elsewhere(delivery, endpoint.url):
                        addressing.set_aside(delivery)  # a redelivery does not follow a changed URL
                        session.add(delivery)
                        continue
                    addressing.sending_to(delivery, endpoint.url)
                    delivery.next_attempt_at = leased_until = now + settings.lease
                    session.add(delivery)
                    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
                    claimed.append(Claimed(delivery.id, endpoint.id, endpoint.url, endpoint.secrets, body, leased_until, delivery.request_id))
            session.commit()
        return claimed, settings.poll_seconds

    # --- one try ---
    async def deliver(self, client: httpx.AsyncClient, claimed: Claimed) -> service.AttemptResult:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.user_agent,
            **sign_headers(claimed.secrets, claimed.delivery_id, claimed.body),
            # Beside the signature, not under it: the receiver can log it; the signed body is unchanged.
            **({REQUEST_ID_HEADER: claimed.request_id} if claimed.request_id else {}),
        }
        started_at, started = utcnow(), time.perf_counter()
        status_code, error, retry_after = None, None, None
        try:
            # httpx's timeout bounds each read; wait_for bounds the whole try, so an endpoint
            # trickling bytes cannot outlast the lease.
            status_code, retry_after_header = await asyncio.wait_for(self._post(client, claimed, headers), self.settings.timeout_seconds)
            retry_after = parse_retry_after(retry_after_header, utcnow())
        except RefusedTarget:
            # Nothing was sent to it, and nothing about it (status, timing) is kept: the admin
            # sees the class of failure only, so the worker cannot be used to scan a network.
            return service.AttemptResult(
                delivery_id=claimed.delivery_id, endpoint_id=claimed.endpoint_id, started_at=started_at, status_code=None,
                latency_ms=0.0, error=REFUSED_TARGET, outcome=Outcome.retry, retry_after=None,
            )
        except (httpx.TimeoutException, asyncio.TimeoutError):
            error = "timeout"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        return service.AttemptResult(
            delivery_id=claimed.delivery_id,
            endpoint_id=claimed.endpoint_id,
            started_at=started_at,
            status_code=status_code,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=error,
            outcome=classify(status_code),
            retry_after=retry_after,
        )

    async def _post(self, client: httpx.AsyncClient, claimed: Claimed, headers: dict[str, str]) -> tuple[int, str | None]:
        """POST the message; the answer's status and Retry-After header.

        Nothing in the answer's body matters to us: at most ANSWER_READ_BYTES of it are read
        (a small one then frees the connection for reuse), so an endpoint cannot make us hold a large one.
        """
        async with client.stream("POST", claimed.url, content=claimed.body, headers=headers, timeout=self.settings.timeout_seconds) as response:
            read = 0
            async for chunk in response.aiter_raw():
                read += len(chunk)
                if read >= ANSWER_READ_BYTES:
                    break
            return response.status_code, response.headers.get("Retry-After")

    def record(self, result: service.AttemptResult) -> None:
        with Session(self.engine) as session:
            status = service.record_attempt(session, self.tables, result, self.settings.retry, self.settings.circuit)
            session.commit()
        self.log.info(
            "delivery attempt",
            delivery_id=result.delivery_id,
            endpoint_id=str(result.endpoint_id),
            status_code=result.status_code,
            latency_ms=round(result.latency_ms, 1),
            error=result.error,
            outcome=result.outcome.value,
            delivery_status=status,
        )

    def release(self, claims: list[Claimed]) -> int:
        """Give back the leases of tries cut short: each delivery is due again now, for any worker.
        Only where the lease is still the claim's (a try that recorded its outcome moved it on).
        No attempt is logged: whether the endpoint got it is unknown (a resend has the same webhook-id)."""
        table, now, released = self.tables.delivery, utcnow(), 0
        with Session(self.engine) as session:
            for claim in claims:
                result = session.execute(
                    update(table)
                    .where(
                        table.id == claim.delivery_id,  # type: ignore[arg-type]
                        table.status == DeliveryStatus.pending.value,  # type: ignore[arg-type]
                        table.next_attempt_at == claim.leased_until,  # type: ignore[arg-type]
                    )
                    .values(next_attempt_at=now)
                )
                released += result.rowcount  # type: ignore[attr-defined]
            session.commit()
        return released

    async def _deliver_and_record(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        # Its own task, so the id is bound for this try alone (and the thread recording it).
        with handling(claimed.request_id):
            await self._try_and_record(client, claimed)

    async def _try_and_record(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        try:
            result = await self.deliver(client, claimed)
            self._recording.add(claimed.delivery_id)
            await asyncio.to_thread(self.record, result)
        except Exception as exc:  # the lease runs out and the delivery is tried again
            self.log.error("delivery failed to record", delivery_id=claimed.delivery_id, error_type=type(exc).__name__)
        finally:
            self._recording.discard(claimed.delivery_id)
            self.in_flight[claimed.endpoint_id] -= 1
            self._wake.set()

    async def _drain(self, tasks: dict[asyncio.Task[None], Claimed], abort: threading.Event | None) -> None:
        """Wait for the tries under way (each ends within its timeout) to finish and be recorded.
        Those still sending after the drain time, or once ``abort`` is set, are cut short and
        their leases given back; an outcome being recorded is always waited for."""
        deadline = time.monotonic() + self.settings.drain
        while tasks and time.monotonic() < deadline and not (abort is not None and abort.is_set()):
            await asyncio.wait(list(tasks), timeout=min(0.1, max(deadline - time.monotonic(), 0.0)))
        cut = {task: claim for task, claim in tasks.items() if claim.delivery_id not in self._recording}
        for task in cut:
            task.cancel()
        await asyncio.gather(*list(tasks), return_exceptions=True)
        if not cut:
            return
        try:
            released = await asyncio.to_thread(self.release, list(cut.values()))
        except Exception as exc:  # they run out instead
            self.log.error("releasing leases failed", deliveries=len(cut), error_type=type(exc).__name__)
            return
        self.log.warning("delivery tries cut short by a stop; leases given back", deliveries=len(cut), released=released)

    # --- the loop ---
    async def run(self, stop: threading.Event, abort: threading.Event | None = None) -> None:
        """Deliver until ``stop`` is set, then drain (``_drain``); ``abort`` cuts the drain short."""
        tasks: dict[asyncio.Task[None], Claimed] = {}
        limits = httpx.Limits(max_connections=self.settings.max_in_flight, max_keepalive_connections=self.settings.max_in_flight)
        # Every connection goes through the target check (transport.py); no redirects, and no
        # proxy from the environment (a proxy would resolve the name where we cannot check it).
        transport = CheckedTransport(allow_loopback=self.settings.allow_loopback, limits=limits)
        self.heartbeat.beat(passed=False)
        async with httpx.AsyncClient(transport=transport, follow_redirects=False, trust_env=False) as client:
            while not stop.is_set():
                self._wake.clear()
                try:
                    claimed, wait = await asyncio.to_thread(self._claim, dict(self.in_flight))
                except Exception as exc:  # outlive a database hiccup
                    self.log.error("claiming deliveries failed", error_type=type(exc).__name__)
                    claimed, wait = [], self.settings.poll_seconds
                for item in claimed:
                    self.in_flight[item.endpoint_id] += 1
                    task = asyncio.create_task(self._deliver_and_record(client, item))
                    tasks[task] = item
                    task.add_done_callback(lambda done: tasks.pop(done, None))
                self.heartbeat.beat()
                if not claimed:
                    await asyncio.to_thread(self._wake.wait, wait)
            await self._drain(tasks, abort)


class BackgroundWorker:
    """A worker on a thread of its own, inside a service's web process."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.worker = worker
        self.heartbeat = worker.heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(worker.run(self._stop)), name="delivery-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.worker.wake()
        self._thread.join(timeout=self.worker.settings.timeout_seconds + 5)


def run_forever(worker: DeliveryWorker) -> None:
    """The body of a standalone worker process. SIGTERM or SIGINT stops it after the tries under
    way (at most the drain time); a second one stops it at once, the leases of cut tries given back."""
    stop, abort = threading.Event(), threading.Event()

    def request_stop(_signum: int, _frame: object) -> None:
        if stop.is_set():
            abort.set()
        stop.set()
        worker.wake()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker.log.info("delivery worker started")
    with start_up_objects_frozen():
        asyncio.run(worker.run(stop, abort))
    worker.log.info("delivery worker stopped")
