"""The soak: referrals and their providers' events through both services while their processes
are SIGKILLed at random moments and started again.

Police systems refer (each with an Idempotency-Key, sent again after a dropped connection or a
503, as the API asks); the fake provider gets each case by signed webhook and reports its
programme as signed events (a webhook-id each, sent again the same way); a fake police system
is told of status changes. Meanwhile referral_api (with its outbox relay and police-notice
worker), provider_gateway (with its relay) or the gateway's delivery worker is killed and
restarted. Then, once everything has settled, what happened is counted:

- accepted: referrals answered 201;
- delivered: of those, the cases whose referral reached the provider;
- lost: of those, the cases with no case behind the 201, no delivery, an answered event
  missing from the case's log, the police not told of the case's last status, or the
  gateway's mirror of the status behind referral_api's;
- duplicated: deliveries of a case under a second webhook-id, events recorded twice on a case,
  police notices of one case version under a second webhook-id. (A resend under the *same*
  webhook-id, after a kill mid-delivery, is the at-least-once the receiver drops: counted apart.)

Used by `make soak` (scripts/soak.py) and by a short run in `make test`
(tests/provider_gateway/e2e/test_soak.py).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from referral_api.callbacks.service import NOTIFIED_STATUSES
from support.credentials import bearer, issue_key
from support.delivery_system import DeliverySystem
from support.gateway_flows import signed_event
from support.processes import start_together
from support.provider_events import ADULT_PROGRAMME, AT_BOOKING, event
from support.referrals import adult_referral
from support.webhook_receiver import WebhookReceiver

# What the fake provider reports of each case: the whole adult programme (12 events) for `make soak`.
FULL_PROGRAMME = ADULT_PROGRAMME
SHORT_PROGRAMME = [
    ("referral.accepted", {}),
    ("appointment.booked", {"appointment_id": "a-1", "kind": "assessment", "starts_at": AT_BOOKING, "mode": "in_person"}),
    ("appointment.attended", {"appointment_id": "a-1"}),
    ("course.completed", {}),
]

TARGETS = ("referral_api", "provider_gateway", "gateway-worker")

# referral_api's notices to the police, as fast to heal as the gateway's deliveries (FAST_DELIVERY).
SOAK_ENV = {
    "REFERRAL_API_DELIVERY_TIMEOUT_SECONDS": "2",
    "REFERRAL_API_DELIVERY_LEASE_SECONDS": "3",
    "REFERRAL_API_DELIVERY_POLL_SECONDS": "0.05",
    "REFERRAL_API_RETRY_BASE_SECONDS": "0.05",
    "REFERRAL_API_RETRY_CAP_SECONDS": "0.5",
    "REFERRAL_API_RETRY_MAX_ATTEMPTS": "200",
    "REFERRAL_API_CIRCUIT_PAUSE_SECONDS": "0.5",
    "REFERRAL_API_RELAY_POLL_SECONDS": "0.2",
    "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
}
FORCE = "thames-valley"  # the police key's force (support/two_services.py)


@dataclass
class Figures:
    accepted: int
    delivered: int
    lost: int
    duplicated: int
    details: Counter = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    kills: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def line(self) -> str:
        return f"{self.accepted} accepted, {self.delivered} delivered, {self.lost} lost, {self.duplicated} duplicated"

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and not self.unexpected


@dataclass
class _Case:
    id: str
    events_answered: int = 0


class Soak:
    def __init__(
        self,
        system: DeliverySystem,
        *,
        referrals: int,
        kills: int,
        clients: int = 8,
        seed: int = 1,
        programme: list[tuple[str, dict[str, Any]]] = FULL_PROGRAMME,
        patience: float = 120.0,
        say: Callable[[str], None] = lambda _line: None,
        progress_seconds: float | None = None,
    ) -> None:
        assert kills < referrals
        self.system = system
        system.env.update(SOAK_ENV)
        self.referrals, self.kill_count, self.clients = referrals, kills, clients
        self.rng = random.Random(seed)
        self.programme = programme
        self.patience = patience  # the longest any one step may take (a call getting through, a delivery, settling)
        self.say = say
        self.progress_seconds = progress_seconds  # how often to say how far it got (None: never)
        self.police = WebhookReceiver()
        self.cases: list[_Case] = []
        self.unexpected: list[str] = []
        self.details: Counter = Counter()
        self.kills: Counter = Counter()
        self._lock = threading.Lock()
        self._next = iter(range(referrals))
        self._delivered: dict[str, threading.Event] = defaultdict(threading.Event)
        self._deliveries: dict[str, Counter] = defaultdict(Counter)  # case -> webhook-id -> times received
        self._notices: dict[tuple[str, int], Counter] = defaultdict(Counter)  # (case, version) -> webhook-id -> times
        self._notified: dict[str, set[str]] = defaultdict(set)  # case -> statuses the police were told of
        self._seen = {"provider": 0, "police": 0}
        self._indexing = threading.Event()
        self._failure: BaseException | None = None

    # --- the run ---------------------------------------------------------------------------
    def run(self) -> Figures:
        started = time.monotonic()
        system = self.system
        self.police.start()
        indexer = threading.Thread(target=self._index_forever, name="soak-indexer", daemon=True)
        try:
            start_together(system.gateway, system.referral_api)
            provider = system.register_provider()
            self.provider_secret = provider["signing_secret"]
            engine = make_engine(system.env["PROVIDER_GATEWAY_DATABASE_URL"])
            self.provider_key = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(provider["id"])))
            engine.dispose()
            callback = httpx.put(f"{system.referral_api.url}/v1/admin/police-callbacks/{FORCE}", json={"url": self.police.url},
                                 headers=system.headers("referral_admin"))
            assert callback.status_code == 201, callback.text
            self.police.secrets = [callback.json()["signing_secret"]]
            self.worker = system.start_worker()
            indexer.start()

            threads = [threading.Thread(target=self._guard(self._client), name=f"soak-client-{n}") for n in range(self.clients)]
            killer = threading.Thread(target=self._guard(self._killer), name="soak-killer")
            for thread in [*threads, killer]:
                thread.start()
            report_at = time.monotonic() + (self.progress_seconds or 0)
            while any(thread.is_alive() for thread in threads):
                time.sleep(0.2)
                if self.progress_seconds and time.monotonic() >= report_at:
                    report_at += self.progress_seconds
                    events = sum(case.events_answered for case in list(self.cases))
                    self.say(f"{time.monotonic() - started:5.0f} s: {len(self.cases)} accepted, {len(self._delivered_ids())} delivered, "
                             f"{events} events answered, kills {dict(self.kills)}")
            for thread in [*threads, killer]:
                thread.join()
            if self._failure is not None:
                raise self._failure
            self.say(f"sent in {time.monotonic() - started:.0f} s; kills: {dict(self.kills)}; settling")
            self._settle()
            figures = self._count()
        finally:
            self._indexing.set()
            self.police.stop()
        figures.seconds = time.monotonic() - started
        return figures

    def _guard(self, body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except BaseException as error:  # noqa: BLE001 - re-raised by run(), in the caller's thread
                self._failure = self._failure or error

        return run

    # --- police systems and the provider, as clients ------------------------------------------
    def _client(self) -> None:
        with httpx.Client(timeout=30) as http:
            while self._failure is None:
                with self._lock:
                    index = next(self._next, None)
                if index is None:
                    return
                case = self._refer(http)
                if case is None:
                    continue
                if not self._delivery_of(case.id).wait(self.patience):
                    continue  # counted as lost at the end
                self._report_programme(http, case)

    def _delivery_of(self, case_id: str) -> threading.Event:
        with self._lock:
            return self._delivered[case_id]

    def _call(self, http: httpx.Client, what: str, send: Callable[[], httpx.Response], ok: tuple[int, ...]) -> httpx.Response | None:
        """Send until answered with one of ``ok``; again after a dropped connection or a 503 (the
        caller makes each try the same request: same Idempotency-Key or webhook-id)."""
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            try:
                response = send()
            except httpx.HTTPError:
                self._note("calls sent again after a dropped connection")
                time.sleep(0.1)
                continue
            if response.status_code in ok:
                return response
            if response.status_code == 503:
                self._note("calls sent again after a 503")
                time.sleep(0.1)
                continue
            self._unexpected(f"{what}: {response.status_code} {response.text[:300]}")
            return None
        self._unexpected(f"{what}: not through in {self.patience:.0f} s")
        return None

    def _refer(self, http: httpx.Client) -> _Case | None:
        body, key = adult_referral(), str(uuid.uuid4())
        url, headers = f"{self.system.referral_api.url}/v1/referrals", {**self.system.headers("police"), "Idempotency-Key": key}
        response = self._call(http, "POST /v1/referrals", lambda: http.post(url, json=body, headers=headers), (201,))
        if response is None:
            return None
        case = _Case(response.json()["id"])
        with self._lock:
            self.cases.append(case)
        return case

    def _report_programme(self, http: httpx.Client, case: _Case) -> None:
        start = datetime.now(UTC)
        url = f"{self.system.gateway.url}/v1/provider/events"
        for number, (kind, data) in enumerate(self.programme):
            body = event(kind, case.id, (start + timedelta(milliseconds=10 * number)).isoformat(), **data)
            webhook_id = f"evt_{uuid.UUID(case.id).hex}_{number}"

            def send() -> httpx.Response:
                raw, headers = signed_event(self.provider_secret, body, webhook_id)  # signed anew: a fresh timestamp
                return http.post(url, content=raw, headers={**headers, **self.provider_key})

            response = self._call(http, f"POST /v1/provider/events ({kind})", send, (200, 202))
            if response is None:
                return
            case.events_answered += 1
            if response.status_code == 202:
                self._note("events answered 202 (kept; referral_api decides them later)")
            if response.json()["duplicate"]:
                self._note("events answered as repeats (the first try got through)")

    # --- the faults --------------------------------------------------------------------------
    def _killer(self) -> None:
        points = sorted(self.rng.sample(range(max(1, self.referrals // 20), self.referrals), self.kill_count))
        # Each kind of process at least once (when there are kills enough), in a random order.
        targets = [*self.rng.sample(TARGETS, len(TARGETS)), *(self.rng.choice(TARGETS) for _ in range(self.kill_count))]
        for point, target in zip(points, targets):
            while len(self.cases) < point:
                if self._failure is not None or not any(t.is_alive() for t in threading.enumerate() if t.name.startswith("soak-client")):
                    return
                time.sleep(0.02)
            time.sleep(self.rng.uniform(0, 0.5))  # a random moment
            self.kills[target] += 1
            if target == "gateway-worker":
                self.worker.kill()
                self.worker = self.system.start_worker()
            else:
                service = self.system.referral_api if target == "referral_api" else self.system.gateway
                service.kill()
                service.start(timeout=120)

    def _note(self, what: str, count: int = 1) -> None:
        with self._lock:
            self.details[what] += count

    def _unexpected(self, what: str) -> None:
        with self._lock:
            self.unexpected.append(what)

    # --- what the provider and the police system received -------------------------------------
    def _index_forever(self) -> None:
        while not self._indexing.wait(0.05):
            self._index()

    def _index(self) -> None:
        provider, police = self.system.provider, self.police
        with self._lock:
            new_deliveries = provider.received[self._seen["provider"]:]
            new_notices = police.received[self._seen["police"]:]
            self._seen["provider"] += len(new_deliveries)
            self._seen["police"] += len(new_notices)
            for received in new_deliveries:
                if not received.verified:
                    self.unexpected.append(f"a delivery the provider could not verify: {received.webhook_id}")
                    continue
                case_id = received.payload["data"]["case_id"]
                self._deliveries[case_id][received.webhook_id] += 1
                self._delivered[case_id].set()
            for received in new_notices:
                if not received.verified:
                    self.unexpected.append(f"a notice the police could not verify: {received.webhook_id}")
                    continue
                data = received.payload["data"]
                self._notices[(data["case_id"], data["version"])][received.webhook_id] += 1
                self._notified[data["case_id"]].add(data["status"])

    # --- settling and counting ---------------------------------------------------------------
    def _settle(self) -> None:
        """Wait, upstream first, until nothing is left to flow: every message sent, every delivery
        and notice made, every deferred event decided."""
        api, gateway = self.system.referral_api.url, self.system.gateway.url
        referral_admin, admin = self.system.headers("referral_admin"), self.system.headers("admin")
        accepted = {case.id for case in self.cases}
        checks = [
            ("every case delivered", lambda: accepted <= self._delivered_ids()),
            ("referral_api's outbox empty", lambda: self._none(f"{api}/v1/admin/messages", {"state": "waiting"}, referral_admin)),
            ("the gateway's deliveries done", lambda: self._none(f"{gateway}/v1/admin/deliveries", {"status": "pending"}, admin)),
            ("no provider event pending", lambda: self._none(f"{gateway}/v1/admin/provider-events", {"outcome": "pending"}, admin)),
            ("the gateway's outbox empty", lambda: self._none(f"{gateway}/v1/admin/messages", {"state": "waiting"}, admin)),
            ("referral_api's outbox empty again", lambda: self._none(f"{api}/v1/admin/messages", {"state": "waiting"}, referral_admin)),
            ("the police notices done", lambda: self._none(f"{api}/v1/admin/deliveries", {"status": "pending"}, referral_admin)),
        ]
        started = time.monotonic()
        deadline = started + self.patience
        for name, check in checks:
            while not check():
                if time.monotonic() > deadline:
                    self.say(f"not settled in {self.patience:.0f} s: {name}")
                    return
                time.sleep(0.2)
            self.say(f"  {time.monotonic() - started:5.1f} s: {name}")
        time.sleep(0.2)
        self._index()

    def _delivered_ids(self) -> set[str]:
        with self._lock:
            return set(self._deliveries)

    @staticmethod
    def _none(url: str, params: dict[str, str], headers: dict[str, str]) -> bool:
        response = httpx.get(url, params={**params, "limit": 1}, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()["items"] == []

    def _count(self) -> Figures:
        api = self.system.referral_api.url
        police = self.system.headers("police")
        mirrored = self._gateway_statuses()

        def examine(case: _Case) -> tuple[_Case, int | None, str | None]:
            response = httpx.get(f"{api}/v1/referrals/{case.id}/timeline", headers=police, timeout=30)
            if response.status_code == 404:
                return case, None, None
            assert response.status_code == 200, response.text
            page = response.json()
            return case, sum(item["source"] == "provider" for item in page["items"]), page["status"]

        with ThreadPoolExecutor(8) as pool:
            examined = list(pool.map(examine, self.cases))

        details = Counter(self.details)
        lost_cases, duplicated = set(), 0
        for case, recorded, status in examined:
            webhook_ids = self._deliveries.get(case.id, Counter())
            if recorded is None:
                details["lost: a 201 with no case"] += 1
                lost_cases.add(case.id)
                continue
            if not webhook_ids:
                details["lost: never delivered"] += 1
                lost_cases.add(case.id)
            if recorded < case.events_answered:
                details["lost: answered events not on the case"] += case.events_answered - recorded
                lost_cases.add(case.id)
            if recorded > case.events_answered:
                details["duplicated: events recorded twice"] += recorded - case.events_answered
                duplicated += recorded - case.events_answered
            if status in NOTIFIED_STATUSES and status not in self._notified.get(case.id, set()):
                details["lost: police not told of the last status"] += 1
                lost_cases.add(case.id)
            if mirrored.get(case.id) != status:
                details["lost: the gateway's mirror behind"] += 1
                lost_cases.add(case.id)
            if len(webhook_ids) > 1:
                details["duplicated: deliveries under a second webhook-id"] += len(webhook_ids) - 1
                duplicated += len(webhook_ids) - 1
            details["deliveries resent under the same webhook-id (receiver drops them)"] += sum(webhook_ids.values()) - len(webhook_ids)
            details[f"cases ending {status}"] += 1
        for (_case_id, _version), webhook_ids in self._notices.items():
            if len(webhook_ids) > 1:
                details["duplicated: police notices of one version under a second webhook-id"] += len(webhook_ids) - 1
                duplicated += len(webhook_ids) - 1
            details["police notices resent under the same webhook-id (receiver drops them)"] += sum(webhook_ids.values()) - len(webhook_ids)
        details["police notices"] = len(self._notices)
        delivered = sum(1 for case in self.cases if self._deliveries.get(case.id))
        return Figures(
            accepted=len(self.cases), delivered=delivered, lost=len(lost_cases), duplicated=duplicated,
            details=+details, unexpected=list(self.unexpected), kills=Counter(self.kills),
        )

    def _gateway_statuses(self) -> dict[str, str | None]:
        """case id -> referral_api's status as the gateway mirrors it."""
        found: dict[str, str | None] = {}
        cursor = None
        with httpx.Client(base_url=self.system.gateway.url, headers=self.system.headers("admin"), timeout=30) as client:
            while True:
                page = client.get("/v1/admin/cases", params={"limit": 100, **({"cursor": cursor} if cursor else {})})
                assert page.status_code == 200, page.text
                found.update({item["case_id"]: item["case_status"] for item in page.json()["items"]})
                if not (cursor := page.json()["next_cursor"]):
                    return found
