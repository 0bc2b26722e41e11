"""The delivery worker: sends due deliveries to providers' endpoints, signed.

Several workers may run at once against PostgreSQL: a delivery is claimed with
``FOR UPDATE SKIP LOCKED`` and leased by pushing its ``next_attempt_at`` past
the longest a try can take, so no two workers send it at the same time. A
worker killed mid-send leaves the lease to run out; the delivery is then sent
again under the same ``webhook-id``, so the provider can drop the repeat.
Each provider has its own concurrency limit and timeout, so a slow one does
not hold up the others; a failing one is paused by its circuit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import Engine, select
from sqlmodel import Session

from diversion_common.database import as_utc, is_sqlite, utcnow
from diversion_common.messaging import wake_event
from diversion_common.signing import sign_headers
from provider_gateway.deliveries import service
from provider_gateway.deliveries.policy import CircuitPolicy, RetryPolicy, classify, parse_retry_after
from provider_gateway.deliveries.tables import Delivery, DeliveryStatus
from provider_gateway.providers.secrets import secrets_in_force
from provider_gateway.providers.tables import Provider

log = logging.getLogger("diversion.provider_gateway.worker")


@dataclass(frozen=True)
class WorkerSettings:
    timeout_seconds: float = 10.0
    per_provider_concurrency: int = 4
    max_in_flight: int = 64
    poll_seconds: float = 0.1
    batch_size: int = 100
    lease_seconds: float | None = None
    retry: RetryPolicy = RetryPolicy()
    circuit: CircuitPolicy = CircuitPolicy()

    @property
    def lease(self) -> timedelta:
        # Longer than any try can take, so a live worker never loses its claim.
        return timedelta(seconds=self.lease_seconds or self.timeout_seconds * 2 + 5)


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    provider_id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    body: bytes


class DeliveryWorker:
    def __init__(self, engine: Engine, settings: WorkerSettings | None = None) -> None:
        self.engine = engine
        self.settings = settings or WorkerSettings()
        self.in_flight: dict[uuid.UUID, int] = defaultdict(int)
        self._wake = wake_event(Delivery.__tablename__)

    # --- claiming (a short transaction, in a thread) ---
    def claim(self, in_flight: dict[uuid.UUID, int]) -> list[Claimed]:
        """Claim what may be sent now, given what is in flight (a snapshot taken on the loop).

        Each usable provider's due deliveries are claimed on their own, up to its
        free slots, so one provider's backlog never keeps another's waiting.
        """
        settings = self.settings
        room = settings.max_in_flight - sum(in_flight.values())
        if room <= 0:
            return []
        now = utcnow()
        claimed: list[Claimed] = []
        with Session(self.engine) as session:
            # The usual answer when idle, from the index alone: nothing is due.
            anything_due = session.scalars(
                select(Delivery.id)
                .where(Delivery.status == DeliveryStatus.pending.value, Delivery.next_attempt_at <= now)
                .limit(1)
            ).first()
            if anything_due is None:
                session.commit()
                return []
            circuits = service.circuits(session)
            providers = list(
                session.scalars(
                    select(Provider).where(
                        Provider.active,  # type: ignore[arg-type]
                        Provider.delivery_mode == "webhook",
                        Provider.webhook_url.is_not(None),  # type: ignore[union-attr]
                    )
                )
            )
            keys = secrets_in_force(session, [p.id for p in providers], now)
            for provider in providers:
                circuit = circuits.get(provider.id)
                if circuit is not None and circuit.paused_until is not None and as_utc(circuit.paused_until) > now:
                    continue
                if not keys.get(provider.id):
                    continue
                probing = circuit is not None and settings.circuit.is_probing(circuit.consecutive_failures)
                slots = min((1 if probing else settings.per_provider_concurrency) - in_flight.get(provider.id, 0), room - len(claimed))
                if slots <= 0:
                    continue
                query = (
                    select(Delivery)
                    .where(
                        Delivery.provider_id == provider.id,
                        Delivery.status == DeliveryStatus.pending.value,
                        Delivery.next_attempt_at <= now,
                    )
                    .order_by(Delivery.next_attempt_at)  # type: ignore[arg-type]
                    .limit(slots)
                )
                if not is_sqlite(str(self.engine.url)):
                    query = query.with_for_update(skip_locked=True)
                secrets_of_provider = tuple(k.secret for k in keys[provider.id])
                for delivery in session.scalars(query):
                    delivery.next_attempt_at = now + settings.lease
                    session.add(delivery)
                    claimed.append(
                        Claimed(
                            delivery_id=delivery.id,
                            provider_id=provider.id,
                            url=provider.webhook_url,  # type: ignore[arg-type]
                            secrets=secrets_of_provider,
                            body=json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode(),
                        )
                    )
            session.commit()
        return claimed

    # --- one try ---
    async def deliver(self, client: httpx.AsyncClient, claimed: Claimed) -> service.AttemptResult:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "DiversionLink-Gateway/1",
            **sign_headers(claimed.secrets, claimed.delivery_id, claimed.body),
        }
        started_at, started = utcnow(), time.perf_counter()
        status_code, error, retry_after = None, None, None
        try:
            # httpx's timeout bounds each read; wait_for bounds the whole try, so a provider
            # trickling bytes cannot outlast the lease.
            response = await asyncio.wait_for(
                client.post(claimed.url, content=claimed.body, headers=headers, timeout=self.settings.timeout_seconds),
                self.settings.timeout_seconds,
            )
            status_code = response.status_code
            retry_after = parse_retry_after(response.headers.get("Retry-After"), utcnow())
        except (httpx.TimeoutException, asyncio.TimeoutError):
            error = "timeout"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        return service.AttemptResult(
            delivery_id=claimed.delivery_id,
            provider_id=claimed.provider_id,
            started_at=started_at,
            status_code=status_code,
            latency_ms=(time.perf_counter() - started) * 1000,
            error=error,
            outcome=classify(status_code),
            retry_after=retry_after,
        )

    def record(self, result: service.AttemptResult) -> None:
        with Session(self.engine) as session:
            status = service.record_attempt(session, result, self.settings.retry, self.settings.circuit)
            session.commit()
        log.info(
            "delivery attempt",
            extra={
                "delivery_id": result.delivery_id,
                "provider_id": str(result.provider_id),
                "status_code": result.status_code,
                "latency_ms": round(result.latency_ms, 1),
                "error": result.error,
                "outcome": result.outcome.value,
                "delivery_status": status,
            },
        )

    async def _deliver_and_record(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        try:
            result = await self.deliver(client, claimed)
            await asyncio.to_thread(self.record, result)
        except Exception as exc:  # the lease runs out and the delivery is tried again
            log.error("delivery failed to record", extra={"delivery_id": claimed.delivery_id, "error_type": type(exc).__name__})
        finally:
            self.in_flight[claimed.provider_id] -= 1
            self._wake.set()

    # --- the loop ---
    async def run(self, stop: threading.Event) -> None:
        tasks: set[asyncio.Task[None]] = set()
        limits = httpx.Limits(max_connections=self.settings.max_in_flight, max_keepalive_connections=self.settings.max_in_flight)
        async with httpx.AsyncClient(limits=limits, follow_redirects=False) as client:
            while not stop.is_set():
                self._wake.clear()
                try:
                    claimed = await asyncio.to_thread(self.claim, dict(self.in_flight))
                except Exception as exc:  # outlive a database hiccup
                    log.error("claiming deliveries failed", extra={"error_type": type(exc).__name__})
                    claimed = []
                for item in claimed:
                    self.in_flight[item.provider_id] += 1
                    task = asyncio.create_task(self._deliver_and_record(client, item))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not claimed:
                    await asyncio.to_thread(self._wake.wait, self.settings.poll_seconds)
            if tasks:
                await asyncio.wait(tasks, timeout=self.settings.timeout_seconds + 1)


class BackgroundWorker:
    """The worker on a thread of its own, inside the gateway's web process."""

    def __init__(self, worker: DeliveryWorker) -> None:
        self.worker = worker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(worker.run(self._stop)), name="delivery-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.worker._wake.set()
        self._thread.join(timeout=self.worker.settings.timeout_seconds + 5)


def run_forever(engine: Engine, settings: WorkerSettings) -> None:
    """Entry point of a standalone worker process; SIGTERM or SIGINT stops it after in-flight tries."""
    import signal

    stop = threading.Event()
    worker = DeliveryWorker(engine, settings)

    def request_stop(_signum: int, _frame: object) -> None:
        stop.set()
        worker._wake.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    log.info("delivery worker started")
    asyncio.run(worker.run(stop))
