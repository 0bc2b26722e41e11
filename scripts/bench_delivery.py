"""Benchmark: from POST /v1/referrals returning to the provider receiving the signed webhook.

Starts referral_api and provider_gateway as real processes on fresh SQLite
databases (or PostgreSQL with --postgres-server URL), registers a webhook
provider served by a local fake that verifies every signature, then:
1. latency: N referrals sent one every 1/RATE s; for each, the time from the 201
   to the provider receiving the webhook (p50, p95, p99, max);
2. throughput: N referrals sent as fast as C clients can; the sustained
   deliveries per second seen by the provider.
Run with `make bench-delivery` (N=1000). Figures depend on the machine: quote them with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diversion_common.migrations import upgrade  # noqa: E402
from support.fake_provider import FakeProvider  # noqa: E402
from support.referrals import adult_referral  # noqa: E402
from support.two_services import System, build_system, percentile  # noqa: E402


def databases(postgres_server: str | None, workdir: Path) -> tuple[str, str, list[str]]:
    if not postgres_server:
        return f"sqlite:///{workdir}/referral_api.db", f"sqlite:///{workdir}/provider_gateway.db", []
    admin = create_engine(make_url(postgres_server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    names = [f"dl_bench_{uuid.uuid4().hex[:8]}_{s}" for s in ("referral_api", "provider_gateway")]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    urls = [make_url(postgres_server).set(drivername="postgresql+psycopg", database=n).render_as_string(hide_password=False) for n in names]
    return urls[0], urls[1], names


def drop(postgres_server: str | None, names: list[str]) -> None:
    if not names:
        return
    admin = create_engine(make_url(postgres_server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=50.0, help="referrals per second in the latency phase")
    parser.add_argument("-c", type=int, default=8, help="concurrent clients in the throughput phase")
    parser.add_argument("--postgres-server", default=None, help="e.g. postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-delivery-"))
    referral_db, gateway_db, created = databases(args.postgres_server, workdir)
    provider = FakeProvider().start()
    system: System | None = None
    try:
        upgrade("referral_api", referral_db)
        upgrade("provider_gateway", gateway_db)
        system = build_system(
            referral_db, gateway_db, workdir, {"REFERRAL_API_LOG_LEVEL": "WARNING", "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING"}
        )
        police, admin = system.headers("police"), system.headers("admin")
        system.gateway.start()
        system.referral_api.start()
        created_provider = httpx.post(f"{system.gateway.url}/v1/admin/providers", headers=admin, json={
            "name": "Bench provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "webhook", "webhook_url": provider.url, "contact_email": "bench@provider.example",
        })
        created_provider.raise_for_status()
        provider.secrets = [created_provider.json()["signing_secret"]]

        def received_at() -> dict[str, float]:
            return {r.payload["data"]["case_id"]: r.at for r in list(provider.received) if r.verified}

        # 1. Latency, at a steady rate.
        answered: dict[str, float] = {}
        with httpx.Client(base_url=system.referral_api.url, headers=police) as client:
            start = time.monotonic()
            for i in range(args.n):
                time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
                response = client.post("/v1/referrals", json=adult_referral())
                assert response.status_code == 201, response.text
                answered[response.json()["id"]] = time.monotonic()
        deadline = time.monotonic() + 120
        while len(received_at().keys() & answered.keys()) < len(answered) and time.monotonic() < deadline:
            time.sleep(0.1)
        arrivals = received_at()
        lost = len(answered.keys() - arrivals.keys())
        latencies = [(arrivals[c] - t) * 1000 for c, t in answered.items() if c in arrivals]

        # 2. Throughput: as fast as the clients can post; deliveries per second at the provider.
        before = len(provider.received)

        local = threading.local()

        def post_one(_: int) -> str:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=system.referral_api.url, headers=police)
            return local.client.post("/v1/referrals", json=adult_referral()).json()["id"]

        burst_start = time.monotonic()
        with ThreadPoolExecutor(args.c) as pool:
            burst = set(pool.map(post_one, range(args.n)))
        posted_in = time.monotonic() - burst_start
        deadline = time.monotonic() + 300
        while len(received_at().keys() & burst) < len(burst) and time.monotonic() < deadline:
            time.sleep(0.1)
        arrivals = received_at()
        burst_arrivals = sorted(arrivals[c] for c in burst if c in arrivals)
        delivered_in = burst_arrivals[-1] - burst_start

        database = "PostgreSQL" if args.postgres_server else "SQLite"
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {database}, "
              "referral_api + provider_gateway (embedded delivery worker) + fake provider on one host")
        print(f"latency, 201 -> webhook received, n={args.n} at {args.rate:.0f}/s: p50 {percentile(latencies, 50):.1f} ms, "
              f"p95 {percentile(latencies, 95):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, max {max(latencies):.1f} ms; "
              f"not delivered: {lost}")
        print(f"throughput, n={args.n} posted by {args.c} clients in {posted_in:.1f} s: all delivered after {delivered_in:.1f} s, "
              f"{len(burst_arrivals) / delivered_in:.0f} deliveries/s sustained; not delivered: {len(burst) - len(burst_arrivals)}")
        duplicates = len(provider.received) - len({r.webhook_id for r in provider.received})
        print(f"duplicates seen by the provider: {duplicates}; received before the burst: {before}")
    finally:
        if system is not None:
            system.stop()
        provider.stop()
        drop(args.postgres_server, created)
    return 0


if __name__ == "__main__":
    sys.exit(main())
