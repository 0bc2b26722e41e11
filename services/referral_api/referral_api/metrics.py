"""referral_api's figures for /metrics (diversion_common/metrics.py): outbox, police callbacks,
breach requests, and the breach scheduler's runs."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge
from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, Engine, func, select

from diversion_common.contracts import BreachStatus
from diversion_common.database import as_utc, utcnow
from diversion_common.domain_metrics import OPEN_STATES, age_seconds, circuits_probe, deliveries_probe, outbox_probe
from diversion_common.metrics import PREFIX, Probe, gauge
from diversion_common.webhooks.policy import CircuitPolicy
from referral_api.breaches.tables import BreachRequestRow
from referral_api.callbacks.tables import CALLBACK_DELIVERIES, CallbackEndpoint
from referral_api.messaging.tables import OutboxMessage

SERVICE = "referral_api"

# The breach scheduler's runs, kept by the process that runs it (nothing records a run in the
# database). Registered when a scheduler starts, so a process without one exposes none of them
# and the "not run" alert sees them absent rather than a stale value.
SCHEDULER_LAST_RUN = Gauge(
    f"{PREFIX}_breach_checks_last_run_timestamp_seconds",
    "When the breach scheduler last finished a run without error (Unix time; 0: not yet since this process started)",
    registry=None,
)
SCHEDULER_LAST_DURATION = Gauge(
    f"{PREFIX}_breach_checks_last_run_duration_seconds", "How long the scheduler's last successful run took", registry=None
)
SCHEDULER_CASES = Gauge(f"{PREFIX}_breach_checks_last_run_cases", "Cases due at the scheduler's last successful run", registry=None)
SCHEDULER_FAILURES = Counter(f"{PREFIX}_breach_checks_failures", "Scheduler runs that failed (logged; the next run tries again)", registry=None)
_registered = threading.Lock()
_scheduler_metrics_registered = False


def register_scheduler_metrics() -> None:
    global _scheduler_metrics_registered
    with _registered:
        if not _scheduler_metrics_registered:
            for metric in (SCHEDULER_LAST_RUN, SCHEDULER_LAST_DURATION, SCHEDULER_CASES, SCHEDULER_FAILURES):
                REGISTRY.register(metric)
            _scheduler_metrics_registered = True


def _callback_recipients(connection: Connection) -> dict[Hashable, str]:
    return {recipient: recipient for recipient in connection.scalars(select(CallbackEndpoint.recipient))}


def breach_requests_probe(engine: Engine) -> Iterator[Metric]:
    """Breach requests by state, and those waiting for the officer in the case's review."""
    pending = BreachRequestRow.status == BreachStatus.pending_oic_review.value
    now = utcnow()
    with engine.connect() as connection:  # each query bounded by the index on status
        by_state = dict(connection.execute(select(BreachRequestRow.status, func.count()).group_by(BreachRequestRow.status)).all())
        oldest_raised, earliest_due = connection.execute(
            select(func.min(BreachRequestRow.raised_at), func.min(BreachRequestRow.review_due_at)).where(pending)
        ).one()
        overdue = connection.execute(select(func.count()).where(pending, BreachRequestRow.review_due_at < now)).scalar_one()
    states = gauge("breach_requests", "Breach requests by state", labels=["state"])
    for state in BreachStatus:
        states.add_metric([state.value], by_state.get(state.value, 0))
    yield states
    yield gauge("breach_requests_review_overdue", "Requests waiting for the officer's review past their review_due_at", overdue)
    yield gauge(
        "breach_requests_review_oldest_age_seconds",
        "Time since the oldest request waiting for the officer's review was raised (0: none waiting)",
        age_seconds(oldest_raised, now),
    )
    yield gauge(
        "breach_requests_review_overdue_seconds",
        "Time past the earliest review_due_at of the requests waiting for the officer (negative: time left before it; no sample: none wait)",
        (now - as_utc(earliest_due)).total_seconds() if earliest_due is not None else None,
    )


def database_probes(circuit: CircuitPolicy) -> list[Probe]:
    return [
        outbox_probe(OutboxMessage, SERVICE),
        deliveries_probe(CALLBACK_DELIVERIES, SERVICE, _callback_recipients, OPEN_STATES),
        circuits_probe(CALLBACK_DELIVERIES, SERVICE, _callback_recipients, circuit),
        breach_requests_probe,
    ]
