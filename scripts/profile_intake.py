"""Profile referral_api under referral intake: where its CPU goes (docs/PERFORMANCE.md, "Profile").

Starts both services on throw-away PostgreSQL databases (BENCH_POSTGRES_URL's server, made and
dropped as `make bench-mixed` makes them), warms up,
then sends referrals from 4 concurrent clients for --seconds while py-spy samples referral_api
(only while it holds the GIL, so the samples are its CPU, not its waits). Writes py-spy's raw
(collapsed) stacks to --output and prints the share of CPU by what the thread was doing and by the
library of the innermost frame. Run with `make profile-intake`.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diversion_common.migrations import upgrade  # noqa: E402
from support.mixed_load import PostgresDatabases  # noqa: E402
from support.referrals import adult_referral  # noqa: E402
from support.two_services import build_system  # noqa: E402

ACTIVITIES = ("create_referral", "receive_many", "OutboxRelay", "AuthenticationGate", "AuditMiddleware", "_run_sync_endpoint", "uvicorn")
LIBRARIES = ("sqlalchemy", "psycopg", "sqlmodel", "pydantic", "fastapi", "starlette", "anyio", "asyncio", "threading", "h11", "json",
             "structlog", "logging", "referral_api", "diversion_common")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--output", default="benchmarks/results/profile-intake.txt")
    args = parser.parse_args()
    databases = PostgresDatabases(os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    system = None
    try:
        for service in ("referral_api", "provider_gateway"):
            upgrade(service, databases.url(service))
        system = build_system(databases.url("referral_api"), databases.url("provider_gateway"), Path(tempfile.mkdtemp(prefix="dl-profile-")))
        system.gateway.start()
        system.referral_api.start()
        httpx.post(f"{system.gateway.url}/v1/admin/providers", headers=system.headers("admin"), json={
            "name": "Profile provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "profile@provider.example",
        }).raise_for_status()
        client = httpx.Client(base_url=system.referral_api.url, headers=system.headers("police"), limits=httpx.Limits(max_connections=4))
        refer = lambda: client.post("/v1/referrals", json=adult_referral(), headers={"Idempotency-Key": str(uuid.uuid4())}).raise_for_status()  # noqa: E731
        for _ in range(50):
            refer()
        spy = subprocess.Popen(["py-spy", "record", "--gil", "--nonblocking", "-r", "100", "-f", "raw", "-o", args.output,
                                "-p", str(system.referral_api.process.pid), "-d", str(args.seconds)], stderr=subprocess.DEVNULL)
        started, sent = time.monotonic(), collections.Counter()

        def clients() -> None:
            while time.monotonic() - started < args.seconds:
                refer()
                sent["n"] += 1

        with ThreadPoolExecutor(4) as pool:
            for _ in range(4):
                pool.submit(clients)
        spy.wait()
        print(f"{sent['n'] / args.seconds:.0f} referrals/s from 4 clients; profile in {args.output}")
        print_shares(Path(args.output))
    finally:
        if system is not None:
            system.referral_api.stop()
            system.gateway.stop()
        databases.drop()
    return 0


def print_shares(collapsed: Path) -> None:
    activity, library, total = collections.Counter(), collections.Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames, samples = stack.split(";"), int(count)
        total += samples
        activity[next((a for f in frames for a in ACTIVITIES if a in f), "other")] += samples
        library[next((lib for lib in LIBRARIES if lib in frames[-1]), "other")] += samples
    print(f"{total} samples while holding the GIL")
    for title, shares in (("what the thread was doing (outermost match)", activity), ("library of the innermost frame", library)):
        print(f"  {title}:")
        for name, samples in shares.most_common(12):
            print(f"    {100 * samples / total:5.1f}%  {name}")


if __name__ == "__main__":
    sys.exit(main())
