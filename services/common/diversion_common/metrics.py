"""Prometheus metrics: ``GET /metrics`` on the internal listener, never on the public port.

What is served (docs/RUNBOOK.md lists every metric and alert):

- HTTP calls, by route template, method and status (``prometheus-fastapi-instrumentator``):
  ``diversion_http_requests_total`` and ``diversion_http_request_duration_seconds``;
- the service's domain gauges, read from its database at scrape time with indexed queries
  (``DatabaseCollector`` and each service's ``<service>/metrics.py``): the database is the
  truth, and every replica reads the same figures;
- counters and gauges kept in the process where no row records the figure (the events
  decided, the breach scheduler's runs) and the process's own (CPU, memory, open files):
  prometheus_client's default registry.

Why the internal listener: it is the port only our other service and the operators' network
reach (docker/compose.yaml never publishes it), so no API client can read operational figures
and Prometheus needs no credential. A service without an internal port serves no /metrics.
On the public port ``/metrics`` is an unknown path: the 404 problem, before any key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from prometheus_client import REGISTRY, CollectorRegistry, disable_created_metrics
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as http_metrics
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from diversion_common.internal_listener import on_internal_listener

METRICS_PATH = "/metrics"
PREFIX = "diversion"
# Our calls take milliseconds; the slow end is a provider's event decided within the request.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

log = logging.getLogger("diversion.metrics")

# A ``*_created`` series beside every counter doubles what is stored and no alert or graph reads it.
disable_created_metrics()

Probe = Callable[[Engine], Iterable[Metric]]


def instrument(app: FastAPI, *, served: bool) -> None:
    """Count and time every call; with ``served`` (an internal listener), answer /metrics there.

    Call it where the middleware belongs: inside the request ids, outside everything that can
    refuse a call (so throttled, unauthenticated and unknown calls are counted with their status).
    """
    registry = CollectorRegistry()  # the app's own: two apps in one process (tests) keep theirs apart
    app.state.metrics_registry = registry
    Instrumentator(should_group_status_codes=False, registry=registry).add(
        http_metrics.requests(metric_namespace=PREFIX, registry=registry),
        http_metrics.latency(metric_namespace=PREFIX, buckets=LATENCY_BUCKETS, registry=registry),
    ).instrument(app)
    if served:
        app.add_middleware(MetricsEndpoint)  # outside the instrumentation: a scrape is not counted


def add_database_metrics(app: FastAPI, *probes: Probe) -> None:
    """Read the service's domain figures from its database at each scrape."""
    app.state.metrics_registry.register(DatabaseCollector(app, probes))


class DatabaseCollector(Collector):
    """The probes' figures, on the app's engine (opened by its lifespan), and whether they could be read."""

    def __init__(self, app: FastAPI, probes: Iterable[Probe]) -> None:
        self.app, self.probes = app, tuple(probes)

    def collect(self) -> Iterator[Metric]:
        engine = getattr(self.app.state, "engine", None)
        if engine is None:
            return
        started = time.perf_counter()
        families: list[Metric] = []
        readable = 1
        try:
            for probe in self.probes:
                families.extend(probe(engine))
        except SQLAlchemyError as error:
            # Its type only: a driver's message may quote a statement's parameters.
            log.error("metrics could not be read from the database", extra={"error_type": type(error).__name__})
            families, readable = [], 0
        yield from families
        yield gauge("database_metrics_up", "1 when the domain figures below could be read from the database", readable)
        yield gauge("database_metrics_read_seconds", "How long reading them took", time.perf_counter() - started)


class MetricsEndpoint:
    """Answers GET /metrics on the internal listener; on the public one it is any unknown path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == METRICS_PATH
            and scope["method"] in ("GET", "HEAD")
            and on_internal_listener(scope)
        ):
            accept = Headers(scope=scope).get("accept")
            # The database probes block: off the event loop, as any database work.
            body, content_type = await anyio.to_thread.run_sync(exposition, scope["app"], accept)
            await Response(body, headers={"content-type": content_type})(scope, receive, send)
            return
        await self.app(scope, receive, send)


@dataclass(frozen=True)
class _Both:
    """The process's registry and the app's, as one (the encoders only call ``collect``)."""

    registries: tuple[CollectorRegistry, ...]

    def collect(self) -> Iterator[Metric]:
        for registry in self.registries:
            yield from registry.collect()


def exposition(app: FastAPI, accept: str | None = None) -> tuple[bytes, str]:
    """The app's /metrics body and content type (Prometheus text, or OpenMetrics when asked)."""
    encoder, content_type = choose_encoder(accept or "")
    return encoder(_Both((REGISTRY, app.state.metrics_registry))), content_type  # type: ignore[arg-type]


def gauge(name: str, documentation: str, value: float | None = None, labels: list[str] | None = None) -> GaugeMetricFamily:
    """A gauge family named with our prefix: one value, ``labels`` to add samples to, or neither (no sample)."""
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=value, labels=labels)


# --- counting what a transaction decided, once it is kept ------------------------------

_COUNTS_ON_COMMIT = "metrics_counts_on_commit"  # session.info: counter children to increment on commit


def count_on_commit(session: Session, counter: Any) -> None:
    """Increment ``counter`` (a labelled child) when the session's transaction commits, not if it rolls back."""
    session.info.setdefault(_COUNTS_ON_COMMIT, []).append(counter)


@event.listens_for(Session, "after_commit")
def _count(session: Session) -> None:
    for counter in session.info.pop(_COUNTS_ON_COMMIT, ()):
        counter.inc()


@event.listens_for(Session, "after_rollback")
def _forget_counts(session: Session) -> None:
    session.info.pop(_COUNTS_ON_COMMIT, None)
