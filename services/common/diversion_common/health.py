"""/health/live and /health/ready: what an orchestrator (compose, a load balancer, serve) asks.

- ``/health/live`` (and ``/health``, its older name): the process answers. Always 200 while
  its event loop runs; nothing else is checked.
- ``/health/ready``: it can do its work. The database answers, its schema is at the latest
  migration this code knows, and each background loop this process runs (the outbox relay,
  the delivery worker, the breach scheduler, as configured) has shown life recently
  (diversion_common/heartbeat.py). Else a 503 problem naming each check that failed.

All three take no key and no admission place, are served on the internal listener too, and
run on the event loop (the readiness check in a thread of its own), so they answer however
busy the service is. None names a person, a key, or the database's address.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from diversion_common.heartbeat import Heartbeat
from diversion_common.instance import INSTANCE_HEADER, INSTANCE_VARIABLE
from diversion_common.problems import ServiceUnavailable, problem_responses
from diversion_common.readiness import database_and_schema, probe_engine

HEALTH_PATHS = frozenset({"/health", "/health/live", "/health/ready"})


class Liveness(BaseModel):
    status: str = "ok"
    service: str


class Readiness(BaseModel):
    status: str = "ready"
    service: str
    checks: dict[str, str]  # each check: "ok", or why not


class NotReady(ServiceUnavailable):
    slug = "not-ready"
    title = "The service is not ready"


def loops_of(app: FastAPI) -> list[Heartbeat]:
    """The heartbeats of the loops this process runs (the lifespan sets them)."""
    return list(getattr(app.state, "heartbeats", []))


def _mark_instance(response: Response) -> None:
    # serve's id for this run (diversion_common/instance.py), when serve started it.
    instance = os.environ.get(INSTANCE_VARIABLE)
    if instance:
        response.headers[INSTANCE_HEADER] = instance


def install_health_routes(app: FastAPI, service: str) -> None:
    checking = asyncio.Lock()  # one check at a time: probes that arrive together share a turn

    @app.get("/health", tags=["operations"], summary="Liveness: the process answers (the older name of /health/live)")
    async def health(response: Response) -> Liveness:
        _mark_instance(response)
        return Liveness(service=service)

    @app.get("/health/live", tags=["operations"], summary="Liveness: the process answers")
    async def live(response: Response) -> Liveness:
        _mark_instance(response)
        return Liveness(service=service)

    @app.get(
        "/health/ready", tags=["operations"], responses=problem_responses(503),
        summary="Readiness: the database answers at the latest schema, and the background loops run",
    )
    async def ready(request: Request, response: Response) -> Readiness:
        _mark_instance(response)
        async with checking:
            checks = await asyncio.to_thread(_check, request.app, service)
        failed = [name for name, state in checks.items() if state != "ok"]
        if failed:
            instance = {INSTANCE_HEADER: response.headers[INSTANCE_HEADER]} if INSTANCE_HEADER in response.headers else None
            raise NotReady(f"not ready: {', '.join(failed)}", checks=checks, headers=instance)
        return Readiness(service=service, checks=checks)


def _check(app: FastAPI, service: str) -> dict[str, str]:
    database_url = getattr(app.state, "database_url", None)
    if database_url is None:
        return {"database": "not opened yet", "schema": "unknown"}
    engine = getattr(app.state, "probe_engine", None)
    if engine is None:
        engine = app.state.probe_engine = probe_engine(database_url)
    checks: dict[str, Any] = database_and_schema(service, engine)
    for heartbeat in loops_of(app):
        checks[heartbeat.loop] = heartbeat.lateness() or "ok"
    return checks
