"""A mixed load on both services as `make run` starts them, and what it measured.

`Deployment` runs what `make run` runs (`diversion-link migrate`, `demo-seed`, `serve`) in a
directory of its own, on free ports, on SQLite files or on two throw-away PostgreSQL
databases. `run_mixed_load` then has N concurrent clients mix police posts and reads with a
provider's signed events and pulls, while /health of both services is sampled; every call
carries its own X-Request-ID (each audit row keeps it as its correlation_id), so the audit rows
of the calls answered 2xx can be counted.

Used by scripts/bench_mixed.py (`make bench-mixed`) and tests/common/test_mixed_load.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from diversion_common.database import make_engine
from provider_gateway.audit.tables import AuditRecord as GatewayAudit
from referral_api.audit.tables import AuditRecord as ReferralAudit
from support.gateway_flows import signed_event
from support.light_http import ConnectionLost, LightConnection
from support.processes import REPO, children, free_port, spawned_workers
from support.referrals import adult_referral

# The console script, as `make run` calls it (`python -m diversion_cli.main` would import the CLI twice).
CLI = str(Path(sys.executable).parent / "diversion-link")
KINDS = ("police_post", "police_read", "provider_event", "provider_pull")
# A client with an unlimited rate: the load is many clients, and the demo has one key per party.
# The limits are refused calls (429), never 5xx; the limit between the services is its own test.
UNLIMITED = {
    f"{prefix}_RATE_LIMIT_{kind}": "1000000/minute"
    for prefix in ("REFERRAL_API", "PROVIDER_GATEWAY")
    for kind in ("PER_CLIENT", "PER_ADDRESS")
}


class PostgresDatabases:
    """Two throw-away databases (one per service) on a server; dropped by ``drop``."""

    def __init__(self, server_url: str) -> None:
        self.server = make_url(server_url).set(drivername="postgresql+psycopg")
        tag = f"dl_mixed_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.names = {service: f"{tag}_{service}" for service in ("referral_api", "provider_gateway")}
        with self._admin() as conn:
            for name in self.names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))

    def url(self, service: str) -> str:
        return self.server.set(database=self.names[service]).render_as_string(hide_password=False)

    def _admin(self):  # type: ignore[no-untyped-def]
        engine = create_engine(self.server, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        return engine.connect()

    def drop(self) -> None:
        with self._admin() as conn:
            for name in self.names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass
class Deployment:
    """Both services as `make run` starts them, in ``workdir``; ``database`` is sqlite or postgresql."""

    workdir: Path
    database: str = "sqlite"
    postgres_url: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1  # processes per service (serve --workers; more than 1 on PostgreSQL only)
    ports: dict[str, int] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    postgres: PostgresDatabases | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "serve.log"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def database_url(self, service: str) -> str:
        if self.postgres is not None:
            return self.postgres.url(service)
        return f"sqlite:///{self.workdir}/{service}.db"

    def start(self, timeout: float = 180.0) -> Deployment:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.database == "postgresql":
            assert self.postgres_url, "PostgreSQL needs a server URL"
            self.postgres = PostgresDatabases(self.postgres_url)
        self.env = {
            **os.environ,
            "REFERRAL_API_DATABASE_URL": self.database_url("referral_api"),
            "PROVIDER_GATEWAY_DATABASE_URL": self.database_url("provider_gateway"),
            **UNLIMITED,
            **self.extra_env,
        }
        for variable in ("REFERRAL_API_SECRETS_KEYS", "PROVIDER_GATEWAY_SECRETS_KEYS"):
            self.env.pop(variable, None)  # the demo makes its own and writes them to its environment file
        env_file = self.workdir / "demo.env"
        self._cli("migrate")
        self._cli("demo-seed", "--env-file", str(env_file))
        self.credentials = json.loads((self.workdir / "demo-credentials.json").read_text())
        self.ports = {name: free_port() for name in ("referral_api", "provider_gateway", "referral_api_internal", "provider_gateway_internal")}
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [CLI, "serve", "--env-file", str(env_file),
             "--referral-api-port", str(self.ports["referral_api"]), "--provider-gateway-port", str(self.ports["provider_gateway"]),
             "--referral-api-internal-port", str(self.ports["referral_api_internal"]),
             "--provider-gateway-internal-port", str(self.ports["provider_gateway_internal"]), "--workers", str(self.workers)],
            env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        # serve's "ready" is a JSON log line (diversion.serve), said once its own processes answer.
        while '"message": "ready"' not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"serve did not get ready: see {self.log_path}")
            time.sleep(0.1)
        return self

    def _cli(self, *args: str) -> None:
        done = subprocess.run([CLI, *args], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"diversion-link {args[0]} failed: {done.stderr[-2000:]}")

    def stop(self) -> None:
        self.stop_services()
        if self.postgres is not None:
            self.postgres.drop()

    def stop_services(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def worker_processes(self) -> dict[str, int]:
        """How many processes serve each service's calls: uvicorn's own, or its workers under its supervisor."""
        assert self.process is not None
        counts = {}
        for name in ("referral_api", "provider_gateway"):
            [server] = [pid for pid, args in children(self.process.pid).items() if f"{name}.main:create_app" in args]
            counts[name] = len(spawned_workers(server)) or 1
        return counts

    def log_lines(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log_path.read_text(errors="replace")))

    def audited(self, service: str, correlation_ids: list[str]) -> set[str]:
        """Which of these correlation ids have an audit record in the service (once it has stopped)."""
        table = ReferralAudit if service == "referral_api" else GatewayAudit
        engine = make_engine(self.database_url(service))
        found: set[str] = set()
        try:
            with Session(engine) as session:
                for start in range(0, len(correlation_ids), 500):
                    chunk = correlation_ids[start:start + 500]
                    found.update(session.scalars(select(table.correlation_id).where(table.correlation_id.in_(chunk))))  # type: ignore[union-attr,attr-defined]
        finally:
            engine.dispose()
        return found


@dataclass
class Call:
    kind: str
    service: str
    status: int | str  # an HTTP status, "timeout" or "error: <httpx's exception>"
    seconds: float
    correlation_id: str


@dataclass
class LoadResult:
    clients: int
    seconds: float
    calls: list[Call]
    health: dict[str, list[float]]  # per service, each sample's seconds (a failed probe counts as its timeout)
    health_failures: int
    load_average: tuple[tuple[float, float, float], tuple[float, float, float]]  # at start, at end
    client_cpu_seconds: float = 0.0  # this process's own CPU during the load: the load generator's weight

    def by_kind(self) -> dict[str, list[Call]]:
        grouped: dict[str, list[Call]] = defaultdict(list)
        for call in self.calls:
            grouped[call.kind].append(call)
        return grouped

    def server_errors(self) -> list[Call]:
        return [c for c in self.calls if isinstance(c.status, int) and c.status >= 500]

    def unanswered(self) -> list[Call]:
        return [c for c in self.calls if not isinstance(c.status, int)]

    def answered_2xx(self, service: str) -> list[Call]:
        return [c for c in self.calls if c.service == service and isinstance(c.status, int) and 200 <= c.status < 300]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class MixedLoad:
    """The clients' side: the demo's police force and adult provider, a set of accepted cases."""

    def __init__(self, deployment: Deployment, timeout: float) -> None:
        self.deployment = deployment
        self.timeout = timeout
        self.police_key = deployment.credentials["police_thames_valley"]["api_key"]
        provider = deployment.credentials["provider_adult_deferred_summons"]
        self.provider_key, self.provider_secret = provider["api_key"], provider["signing_secret"]
        self.cases: list[str] = []

    # -- the calls --
    def _police(self, correlation_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.police_key}", "X-Request-ID": correlation_id}

    def _provider(self, correlation_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.provider_key}", "X-Request-ID": correlation_id}

    async def call(self, connections: dict[str, LightConnection], kind: str, rng: random.Random) -> Call:
        correlation_id = str(uuid.uuid4())  # a UUID, or the service would make its own
        service = "referral_api" if kind.startswith("police") else "provider_gateway"
        started = time.perf_counter()
        try:
            if kind == "police_post":
                body = json.dumps(adult_referral(police_reference=f"MX-{uuid.uuid4().hex[:20]}")).encode()
                headers = {**self._police(correlation_id), "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"}
                status, _ = await connections[service].request("POST", "/v1/referrals", headers, body, timeout=self.timeout)
            elif kind == "police_read":
                status, _ = await connections[service].request(
                    "GET", f"/v1/referrals/{rng.choice(self.cases)}", self._police(correlation_id), timeout=self.timeout
                )
            elif kind == "provider_event":
                occurred_at = datetime.now(UTC) - timedelta(seconds=1)
                event = {"type": "contact.attempted", "data": {
                    "case_id": rng.choice(self.cases), "occurred_at": occurred_at.isoformat(), "method": "phone", "outcome": "no_answer",
                }}
                body, signature = signed_event(self.provider_secret, event)
                status, _ = await connections[service].request(
                    "POST", "/v1/provider/events", {**signature, **self._provider(correlation_id)}, body, timeout=self.timeout
                )
            else:
                status, _ = await connections[service].request(
                    "GET", "/v1/provider/referrals?limit=20", self._provider(correlation_id), timeout=self.timeout
                )
            outcome: int | str = status
        except TimeoutError:
            outcome = "timeout"
        except (ConnectionLost, OSError) as error:
            outcome = f"error: {type(error).__name__}"
        return Call(kind, service, outcome, time.perf_counter() - started, correlation_id)

    async def _send_event(self, http: httpx.AsyncClient, event_type: str, case_id: str, correlation_id: str) -> httpx.Response:
        occurred_at = datetime.now(UTC) - timedelta(seconds=1)
        body, headers = signed_event(self.provider_secret, {"type": event_type, "data": {"case_id": case_id, "occurred_at": occurred_at.isoformat()}})
        return await http.post(f"{self.deployment.url('provider_gateway')}/v1/provider/events", content=body,
                               headers={**headers, **self._provider(correlation_id)})

    # -- before the load: cases routed to the provider and accepted by it --
    async def prepare(self, cases: int) -> None:
        api = self.deployment.url("referral_api")
        async with httpx.AsyncClient(timeout=60) as http:
            created = []
            for _ in range(cases):
                response = await http.post(f"{api}/v1/referrals", json=adult_referral(police_reference=f"MX-{uuid.uuid4().hex[:20]}"),
                                           headers={**self._police("prepare"), "Idempotency-Key": str(uuid.uuid4())})
                response.raise_for_status()
                created.append(response.json()["id"])
            deadline = time.monotonic() + 60
            for case_id in created:
                while (await http.get(f"{api}/v1/referrals/{case_id}", headers=self._police("prepare"))).json()["status"] != "routed":
                    if time.monotonic() > deadline:
                        raise RuntimeError("the prepared cases were not routed within 60 s")
                    await asyncio.sleep(0.05)
                accepted = await self._send_event(http, "referral.accepted", case_id, "prepare")
                # 202: the gateway's own message about the routing was still on its way; it follows it.
                while accepted.status_code == 202 or (accepted.status_code == 200 and accepted.json()["outcome"] == "pending"):
                    if time.monotonic() > deadline:
                        raise RuntimeError("a prepared case's acceptance was not applied within 60 s")
                    await asyncio.sleep(0.1)
                    accepted = await http.get(f"{self.deployment.url('provider_gateway')}{accepted.json()['links']['self']}",
                                              headers=self._provider("prepare"))
                if accepted.status_code != 200 or accepted.json()["outcome"] != "applied":
                    raise RuntimeError(f"accepting a prepared case: {accepted.status_code} {accepted.text[:300]}")
        self.cases = created

    # -- the load --
    async def run(self, clients: int, seconds: float, health_interval: float = 0.25, seed: int = 23) -> LoadResult:
        calls: list[Call] = []
        health: dict[str, list[float]] = {"referral_api": [], "provider_gateway": []}
        failures = 0
        # Each simulated client keeps one connection to each service (support/light_http.py: a
        # load generator's client, a tenth of httpx's CPU per call, so the services get the cores).
        load_before = os.getloadavg()
        cpu_before = time.process_time()
        started = time.monotonic()
        deadline = started + seconds

        async def client(index: int) -> None:
            rng = random.Random(seed * 1000 + index)
            connections = {service: LightConnection("127.0.0.1", self.deployment.ports[service]) for service in health}
            while time.monotonic() < deadline:
                calls.append(await self.call(connections, rng.choice(KINDS), rng))
            for connection in connections.values():
                connection.close()

        # /health is probed from a process of its own: this one's event loop is busy with the clients.
        urls = {service: f"{self.deployment.url(service)}/health" for service in health}
        prober = subprocess.Popen(
            [sys.executable, "-c", PROBE_HEALTH, json.dumps([urls, time.time() + seconds, health_interval, self.timeout])],
            stdout=subprocess.PIPE,
        )
        await asyncio.gather(*(client(i) for i in range(clients)))
        output, _ = await asyncio.to_thread(prober.communicate)
        health, failures = json.loads(output)
        return LoadResult(clients, time.monotonic() - started, calls, health, failures, (load_before, os.getloadavg()),
                          time.process_time() - cpu_before)


# GET each /health every interval until the load ends; print {service: [seconds]} and the failures.
PROBE_HEALTH = """
import json, sys, time
import httpx
urls, until, interval, timeout = json.loads(sys.argv[1])
health, failures = {service: [] for service in urls}, 0
with httpx.Client(timeout=timeout) as http:
    while time.time() < until:
        for service, url in urls.items():
            begun = time.perf_counter()
            try:
                ok = http.get(url).status_code == 200
            except httpx.HTTPError:
                ok = False
            health[service].append(time.perf_counter() - begun)
            failures += not ok
        time.sleep(interval)
print(json.dumps([health, failures]))
"""


def run_mixed_load(deployment: Deployment, *, clients: int, seconds: float, cases: int = 30, timeout: float = 60.0) -> LoadResult:
    load = MixedLoad(deployment, timeout)

    async def both() -> LoadResult:
        await load.prepare(cases)
        return await load.run(clients, seconds)

    return asyncio.run(both())


def lost_audit_records(deployment: Deployment, result: LoadResult) -> list[Call]:
    """Calls answered 2xx whose audit record is not in their service's database."""
    lost = []
    for service in ("referral_api", "provider_gateway"):
        answered = result.answered_2xx(service)
        found = deployment.audited(service, [c.correlation_id for c in answered])
        lost += [c for c in answered if c.correlation_id not in found]
    return lost


def report(result: LoadResult, label: str) -> str:
    """The table: per kind n, 2xx, 4xx, 5xx, no answer, p50/p95/p99/max; then /health."""
    ms = lambda seconds: f"{seconds * 1000:9.0f}"  # noqa: E731
    lines = [f"{label}: {result.clients} clients, {result.seconds:.0f} s, {len(result.calls)} calls "
             f"({len(result.calls) / result.seconds:.0f}/s); load average {result.load_average[0][0]:.2f} at start, "
             f"{result.load_average[1][0]:.2f} at end (1 min)",
             f"  {'kind':<16}{'n':>7}{'2xx':>7}{'4xx':>6}{'5xx':>6}{'none':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"]
    for kind in KINDS:
        calls = result.by_kind().get(kind, [])
        seconds = [c.seconds for c in calls]
        count = lambda low, high: sum(1 for c in calls if isinstance(c.status, int) and low <= c.status < high)  # noqa: E731
        lines.append(f"  {kind:<16}{len(calls):>7}{count(200, 300):>7}{count(400, 500):>6}{count(500, 600):>6}"
                     f"{sum(1 for c in calls if not isinstance(c.status, int)):>6}"
                     f"{ms(percentile(seconds, 50))}{ms(percentile(seconds, 95))}{ms(percentile(seconds, 99))}"
                     f"{ms(max(seconds) if seconds else float('nan'))}")
    for service, samples in result.health.items():
        lines.append(f"  /health {service:<17} {len(samples)} samples: p50 {percentile(samples, 50) * 1000:.0f} ms, "
                     f"p99 {percentile(samples, 99) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms")
    lines.append(f"  /health probes failed: {result.health_failures}")
    lines.append(f"  the load generator (this process): {100 * result.client_cpu_seconds / result.seconds:.0f}% of a core, "
                 f"{1000 * result.client_cpu_seconds / max(len(result.calls), 1):.2f} ms of CPU per call")
    unanswered = sorted({str(c.status) for c in result.unanswered()})
    if unanswered:
        lines.append(f"  unanswered: {', '.join(unanswered)}")
    return "\n".join(lines)
