"""Benchmark: how quickly POST /v1/referrals answers, and how soon the case is routed.

Starts both services as real processes on fresh SQLite databases, then:
- sends N referrals one after another and prints p50/p95/p99 of the answer time;
- sends N more from C concurrent clients and prints the throughput;
- prints p50/p95 of the time from the 201 to the case reading `routed`.
Run with `make bench-intake` (N=1000, C=8). Figures depend on the machine: quote them with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diversion_common.migrations import upgrade  # noqa: E402
from support.referrals import adult_referral  # noqa: E402
from support.two_services import build_system, percentile  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("-c", type=int, default=8)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-"))
    referral_db, gateway_db = f"sqlite:///{workdir}/referral_api.db", f"sqlite:///{workdir}/provider_gateway.db"
    upgrade("referral_api", referral_db)
    upgrade("provider_gateway", gateway_db)
    system = build_system(
        referral_db, gateway_db, workdir, {"REFERRAL_API_LOG_LEVEL": "WARNING", "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING"}
    )
    police, admin = system.headers("police"), system.headers("admin")
    system.gateway.start()
    system.referral_api.start()
    try:
        base = system.referral_api.url
        httpx.post(f"{system.gateway.url}/v1/admin/providers", headers=admin, json={
            "name": "Bench provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "bench@provider.example",
        }).raise_for_status()

        with httpx.Client(base_url=base, headers=police) as client:
            for _ in range(20):  # warm up
                client.post("/v1/referrals", json=adult_referral(), headers={"Idempotency-Key": str(uuid.uuid4())})
            latencies, created = [], []
            for _ in range(args.n):
                body = adult_referral()
                started = time.perf_counter()
                response = client.post("/v1/referrals", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 201, response.text
                created.append((response.json()["id"], time.perf_counter()))

            # Time from the 201 to the case reading "routed", one referral at a time on a quiet system.
            while client.get(f"/v1/referrals/{created[-1][0]}").json()["status"] != "routed":
                time.sleep(0.05)
            routed_after = []
            for _ in range(50):
                response = client.post("/v1/referrals", json=adult_referral())
                answered = time.perf_counter()
                case_id = response.json()["id"]
                while client.get(f"/v1/referrals/{case_id}").json()["status"] != "routed":
                    time.sleep(0.002)
                routed_after.append((time.perf_counter() - answered) * 1000)

        local = threading.local()

        def post_one(_: int) -> int:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=base, headers=police)
            return local.client.post("/v1/referrals", json=adult_referral(), headers={"Idempotency-Key": str(uuid.uuid4())}).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(args.c) as pool:
            statuses = list(pool.map(post_one, range(args.n)))
        elapsed = time.perf_counter() - started
        assert set(statuses) == {201}, set(statuses)

        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite")
        print(f"POST /v1/referrals, sequential, n={args.n}: p50 {percentile(latencies, 50):.1f} ms, "
              f"p95 {percentile(latencies, 95):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, mean {statistics.mean(latencies):.1f} ms")
        print(f"POST /v1/referrals, {args.c} concurrent clients, n={args.n}: {args.n / elapsed:.0f} referrals/s")
        print(f"201 -> status routed (to the gateway and back), 50 referrals one at a time, polled every 2 ms: "
              f"p50 {percentile(routed_after, 50):.0f} ms, p95 {percentile(routed_after, 95):.0f} ms, max {max(routed_after):.0f} ms")
    finally:
        system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
