"""Benchmark: providers' signed events into the gateway, and how soon the police are told.

Starts both services as real processes on fresh SQLite databases, a provider
(signing with the public `standardwebhooks` package) and a police system's
callback endpoint (a local server verifying every notification), then prints:
- POST /v1/referrals answer time (sequential), as the yardstick: events should cost no more;
- POST /v1/provider/events answer time (sequential, each decided by referral_api within
  the request), p50/p95/p99, and its ratio to intake;
- sustained events per second from C concurrent provider clients;
- from an acceptance's 200 to the police system receiving the signed `case.status_changed`,
  p50/p95/p99.
Run with `make bench-events`. Figures depend on the machine: quote them with it.
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

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diversion_common.credentials import Role  # noqa: E402
from diversion_common.database import make_engine  # noqa: E402
from diversion_common.migrations import upgrade  # noqa: E402
from provider_gateway.clients.tables import Client as GatewayClient  # noqa: E402
from support.credentials import bearer, issue_key  # noqa: E402
from support.fake_provider import FakeProvider  # noqa: E402
from support.gateway_flows import signed_event  # noqa: E402
from support.provider_events import event  # noqa: E402
from support.referrals import adult_referral  # noqa: E402
from support.two_services import build_system, percentile  # noqa: E402


def figures(values: list[float]) -> str:
    return f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, p99 {percentile(values, 99):.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=1000, help="events per measurement")
    parser.add_argument("-c", type=int, default=8, help="concurrent provider clients")
    parser.add_argument("--cases", type=int, default=100, help="cases the events are about")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-events-"))
    referral_db, gateway_db = f"sqlite:///{workdir}/referral_api.db", f"sqlite:///{workdir}/provider_gateway.db"
    upgrade("referral_api", referral_db)
    upgrade("provider_gateway", gateway_db)
    system = build_system(referral_db, gateway_db, workdir, {
        "REFERRAL_API_LOG_LEVEL": "WARNING", "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING",
        "REFERRAL_API_RELAY_POLL_SECONDS": "0.2", "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
        "REFERRAL_API_DELIVERY_POLL_SECONDS": "0.05",
    })
    police_system = FakeProvider().start()
    system.gateway.start()
    system.referral_api.start()
    try:
        api, gateway = system.referral_api.url, system.gateway.url
        registered = httpx.put(f"{api}/v1/admin/police-callbacks/thames-valley", json={"url": police_system.url},
                               headers=system.headers("referral_admin"))
        registered.raise_for_status()
        police_system.secrets = [registered.json()["signing_secret"]]
        created = httpx.post(f"{gateway}/v1/admin/providers", headers=system.headers("admin"), json={
            "name": "Bench provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "bench@provider.example",
        })
        created.raise_for_status()
        secret = created.json()["signing_secret"]
        engine = make_engine(gateway_db)
        provider_key = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(created.json()["id"])))
        engine.dispose()

        def send(client: httpx.Client, body: dict) -> httpx.Response:
            raw, headers = signed_event(secret, body)
            return client.post("/v1/provider/events", content=raw, headers={**headers, **provider_key})

        with httpx.Client(base_url=api, headers=system.headers("police")) as police:
            intake = []
            for _ in range(args.n):
                started = time.perf_counter()
                response = police.post("/v1/referrals", json=adult_referral())
                intake.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 201, response.text
            case_ids = [police.post("/v1/referrals", json=adult_referral()).json()["id"] for _ in range(args.cases)]
            while police.get(f"/v1/referrals/{case_ids[-1]}").json()["status"] != "routed":
                time.sleep(0.05)

        # Acceptances, one at a time: the 200 to the police system holding the signed notice.
        to_police = []
        with httpx.Client(base_url=gateway) as client:
            for case_id in case_ids:
                response = send(client, event("referral.accepted", case_id))
                answered = time.perf_counter()
                assert response.status_code == 200, response.text
                while not any(r.payload and r.payload["data"]["case_id"] == case_id for r in police_system.accepted()):
                    time.sleep(0.001)
                to_police.append((time.perf_counter() - answered) * 1000)

            sequential = []
            for i in range(args.n):
                body = event("contact.attempted", case_ids[i % len(case_ids)], method="phone", outcome="no_answer")
                started = time.perf_counter()
                response = send(client, body)
                sequential.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, response.text

        local = threading.local()

        def send_one(i: int) -> int:
            if not hasattr(local, "client"):
                local.client = httpx.Client(base_url=gateway, timeout=30)
            body = event("contact.attempted", case_ids[i % len(case_ids)], method="sms", outcome="message_left")
            return send(local.client, body).status_code

        started = time.perf_counter()
        with ThreadPoolExecutor(args.c) as pool:
            statuses = list(pool.map(send_one, range(args.n)))
        elapsed = time.perf_counter() - started
        assert set(statuses) == {200}, set(statuses)

        intake_p50, events_p50 = percentile(intake, 50), percentile(sequential, 50)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite, "
              "both services and this client on one host")
        print(f"POST /v1/referrals (the yardstick), sequential, n={args.n}: {figures(intake)}")
        print(f"POST /v1/provider/events, decided by referral_api within the request, sequential, n={args.n}: {figures(sequential)}")
        print(f"event / intake answer time at p50: {events_p50 / intake_p50:.2f}")
        print(f"POST /v1/provider/events, {args.c} concurrent clients, n={args.n}: {args.n / elapsed:.0f} events/s")
        print(f"acceptance 200 -> police system holds the signed case.status_changed, {len(to_police)} cases one at a time: "
              f"{figures(to_police)}")
    finally:
        system.stop()
        police_system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
