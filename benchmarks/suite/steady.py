"""End-to-end times at a steady rate: how soon the other party holds what a call caused.

1. `POST /v1/referrals` returns 201 -> the provider's webhook endpoint holds the signed referral.
2. A provider sends its acceptance -> the police system's callback holds the signed
   `case.status_changed` (accepted_by_provider). Counted from the sending, not from the 200:
   referral_api decides the event within the gateway's request and its notice may reach the
   police before the gateway's answer reaches the provider.

Both outside parties are fakes speaking the real protocol (tests/support/webhook_receiver.py:
every message verified with the public `standardwebhooks` package), in this process, so their
arrival times and the answers' times are read on one clock. Calls are sent on a schedule
(call i at start + i / rate) from a pool of clients, so a slow answer does not slow the rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from support.gateway_flows import signed_event
from support.referrals import adult_referral
from support.webhook_receiver import WebhookReceiver

DISTRICT = "oxford"  # the webhook provider's; the intake runs' pull provider covers reading only


@dataclass
class Latencies:
    what: str
    rate: float
    sent: int
    arrived: list[float]  # ms, one per call whose result arrived

    @property
    def missing(self) -> int:
        return self.sent - len(self.arrived)

    def as_dict(self) -> dict[str, Any]:
        ordered = sorted(self.arrived)

        def at(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))], 1) if ordered else float("nan")

        return {"what": self.what, "rate_per_second": self.rate, "sent": self.sent, "missing": self.missing,
                "p50_ms": at(50), "p95_ms": at(95), "p99_ms": at(99), "max_ms": round(max(ordered), 1) if ordered else float("nan")}


def on_schedule(count: int, rate: float, call: Callable[[int], None], clients: int = 8) -> None:
    """Start call i at start + i / rate (as soon as a client is free, if none is)."""
    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        futures = []
        for index in range(count):
            time.sleep(max(0.0, start + index / rate - time.monotonic()))
            futures.append(pool.submit(call, index))
        for future in futures:
            future.result()


def wait_for(arrived: Callable[[], int], expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while arrived() < expected and time.monotonic() < deadline:
        time.sleep(0.05)


class SteadyRate:
    """A webhook provider for DISTRICT and a police callback for Thames Valley, registered on the
    running services; then the two timings."""

    def __init__(self, api_url: str, gateway_url: str, police_key: str, referral_admin_key: str, gateway_admin_key: str,
                 provider_key_for: Callable[[str], str]) -> None:
        self.api_url, self.gateway_url = api_url, gateway_url
        self.police = {"Authorization": f"Bearer {police_key}"}
        self.provider = WebhookReceiver().start()
        self.police_system = WebhookReceiver().start()
        created = httpx.post(f"{gateway_url}/v1/admin/providers", headers={"Authorization": f"Bearer {gateway_admin_key}"}, json={
            "name": "Bench webhook provider", "pathways": ["adult_deferred_summons"], "districts": [DISTRICT],
            "delivery_mode": "webhook", "webhook_url": self.provider.url, "contact_email": "bench-webhook@provider.example",
        })
        created.raise_for_status()
        self.provider_secret = created.json()["signing_secret"]
        self.provider.secrets = [self.provider_secret]
        self.provider_headers = {"Authorization": f"Bearer {provider_key_for(created.json()['id'])}"}
        callback = httpx.put(f"{api_url}/v1/admin/police-callbacks/thames-valley", json={"url": self.police_system.url},
                             headers={"Authorization": f"Bearer {referral_admin_key}"})
        callback.raise_for_status()
        self.police_system.secrets = [callback.json()["signing_secret"]]

    def stop(self) -> None:
        self.provider.stop()
        self.police_system.stop()

    def referral_to_provider(self, count: int, rate: float) -> tuple[Latencies, list[str]]:
        def post(client: httpx.Client, _index: int) -> tuple[str, float] | None:
            body = adult_referral()
            body["encounter"] = {**body["encounter"], "district": DISTRICT, "postcode": "OX1 1AA"}
            response = client.post("/v1/referrals", json=body)
            return (response.json()["id"], time.monotonic()) if response.status_code == 201 else None

        def arrived(payload: dict[str, Any]) -> bool:
            return payload.get("type") == "referral.created"

        answered = _timed(count, rate, self.api_url, self.police, post)
        latencies = _arrival_times(self.provider, arrived, answered)
        return Latencies("201 -> provider holds the signed referral", rate, count, latencies), list(answered)

    def acceptance_to_police(self, case_ids: list[str], rate: float) -> Latencies:
        def accept(client: httpx.Client, index: int) -> tuple[str, float] | None:
            case_id = case_ids[index]
            occurred_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
            body, headers = signed_event(self.provider_secret, {"type": "referral.accepted", "data": {"case_id": case_id, "occurred_at": occurred_at}})
            sent = time.monotonic()
            response = client.post("/v1/provider/events", content=body, headers=headers)
            return (case_id, sent) if response.status_code == 200 and response.json()["outcome"] == "applied" else None

        def arrived(payload: dict[str, Any]) -> bool:
            return payload.get("type") == "case.status_changed" and payload["data"].get("status") == "accepted_by_provider"

        answered = _timed(len(case_ids), rate, self.gateway_url, self.provider_headers, accept)
        latencies = _arrival_times(self.police_system, arrived, answered)
        return Latencies("acceptance sent -> police hold the signed case.status_changed", rate, len(case_ids), latencies)


def _timed(count: int, rate: float, base_url: str, headers: dict[str, str],
           call: Callable[[httpx.Client, int], tuple[str, float] | None]) -> dict[str, float]:
    """``call`` on schedule, each client thread with its own httpx client; case id -> the moment
    each call that succeeded counts from."""
    answered: dict[str, float] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        result = call(local.client, index)
        if result is not None:
            with lock:
                answered[result[0]] = result[1]

    on_schedule(count, rate, one)
    return answered


def _arrival_times(receiver: WebhookReceiver, arrived: Callable[[dict[str, Any]], bool], answered: dict[str, float]) -> list[float]:
    """ms from each answered call's moment to its case's message arriving (waiting up to 2 minutes)."""

    def arrivals() -> dict[str, float]:
        return {r.payload["data"]["case_id"]: r.at for r in list(receiver.received) if r.verified and r.payload and arrived(r.payload)}

    wait_for(lambda: len(arrivals().keys() & answered.keys()), len(answered), timeout=120)
    got = arrivals()
    return [(got[case] - at) * 1000 for case, at in answered.items() if case in got]
