"""The background loops as processes of their own (a container each), and their health check.

`diversion-link scheduler` runs referral_api's breach checks on their schedule, as the web
process does when REFERRAL_API_RUN_BREACH_SCHEDULER is on (turn that off where this runs);
with ``--metrics-port`` it serves its own figures (last run, duration, failures) to Prometheus.
With ``--heartbeat-file``, each pass is also written there, and `diversion-link
heartbeat-check FILE` (the container's health check) says whether the loop beats in time
(diversion_common/heartbeat.py); `gateway-worker` takes the same option.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Annotated

import structlog
import typer

from diversion_cli.context import fail

log = structlog.get_logger("diversion.referral_api.scheduler")

HeartbeatFile = Annotated[
    Path | None, typer.Option(help="Write each pass's heartbeat here, for `diversion-link heartbeat-check`")
]


def scheduler(
    heartbeat_file: HeartbeatFile = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve the scheduler's Prometheus metrics on this port (GET /metrics)")] = None,
    metrics_host: Annotated[str, typer.Option(help="...on this interface (0.0.0.0 in a container, on a network the public cannot reach)")] = "127.0.0.1",
) -> None:
    """Run the breach checks every REFERRAL_API_BREACH_CHECK_SECONDS until SIGTERM or SIGINT (several may run at once)."""
    from diversion_common.database import make_engine
    from diversion_common.observability import configure_logging
    from referral_api.breaches.scheduler import BreachScheduler
    from referral_api.config import Settings as ReferralSettings

    settings = ReferralSettings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    checks = BreachScheduler(engine, settings.breach_check_seconds)
    checks.heartbeat.file = heartbeat_file
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    checks.start()
    if metrics_port is not None:
        # The scheduler's figures (referral_api/metrics.py) live in this process: the BreachSchedulerNotRun alert scrapes them here.
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host)
    log.info("breach scheduler started", every_seconds=settings.breach_check_seconds, metrics_port=metrics_port)
    try:
        while not stop.wait(1.0):
            pass
    finally:
        checks.stop()  # lets a check under way finish
        engine.dispose()
        log.info("breach scheduler stopped")


def heartbeat_check(file: Annotated[Path, typer.Argument(help="The file a loop's --heartbeat-file names")]) -> None:
    """Exit 0 while the loop writing FILE passes in time, else 1 with one line saying why (a container's health check)."""
    from diversion_common.heartbeat import read_beat

    try:
        beat = read_beat(file)
    except FileNotFoundError:
        fail(f"no heartbeat in {file} yet", 1)
    except (OSError, ValueError, KeyError, TypeError):
        fail(f"{file} holds no heartbeat", 1)
    now = time.time()
    if not beat.is_recent(now):
        fail(f"{beat.loop}: no pass for {beat.silence(now):.0f} s (allowed {beat.allowed_silence:.0f} s)", 1)
    typer.echo(f"{beat.loop}: ok, {beat.passes} passes, the last {beat.silence(now):.0f} s ago")


def register(app: typer.Typer) -> None:
    app.command("scheduler")(scheduler)
    app.command("heartbeat-check")(heartbeat_check)
