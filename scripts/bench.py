"""Benchmark: referral intake and provider events against a ceiling measured in the same run (`make bench`).

On throw-away PostgreSQL databases (created on --postgres-url's server, migrated, dropped
after), it starts both services as production runs them (uvicorn, logging JSON at INFO to a
file, no debug; the clients' rate limits lifted as in every benchmark, one
key standing for many police systems) and the ceiling app (benchmarks/ceiling_app.py: the same
body, the same model, one row inserted with raw asyncpg). Then for each number of connections
it runs wrk (benchmarks/intake.lua) for --seconds against the ceiling, then against
`POST /v1/referrals`, then against `POST /v1/provider/events` (benchmarks/events.lua: events
signed just before the run, about cases the intake runs created and the provider accepted),
and prints requests/s, p50 and p99, and each figure's ratio to the ceiling's at the same
connections. Then, at a steady rate (--rate, 50/s), the time from each referral's 201 to the
provider's webhook endpoint holding it, and from each acceptance's 200 to the police system's
callback holding the status change (benchmarks/suite/steady.py). Each process's peak RSS over
all the runs and its RSS after them close the table. Every intake answer must be a 201, every
event answer a 200 or a 202, every referral and status change must arrive.
The same is written to benchmarks/results/<UTC time>.json with the machine's description.
The whole suite runs once per --workers count (default 1, then 2 processes per service, each
with its own relay and delivery worker, sharing the rows with SKIP LOCKED), on new databases,
and a last table sets each path's figures side by side. docs/PERFORMANCE.md says how to read it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from diversion_common.credentials import Role  # noqa: E402
from diversion_common.database import make_engine  # noqa: E402
from diversion_common.migrations import upgrade  # noqa: E402
from provider_gateway.clients.tables import Client as GatewayClient  # noqa: E402
from suite import provider_events  # noqa: E402
from suite.memory import MemoryWatch, largest_rss_mb  # noqa: E402
from suite.steady import SteadyRate  # noqa: E402
from support.credentials import issue_key  # noqa: E402
from support.processes import REPO, free_port, start_together  # noqa: E402
from support.two_services import build_system  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
INTAKE_SCRIPT = REPO / "benchmarks" / "intake.lua"
EVENTS_SCRIPT = REPO / "benchmarks" / "events.lua"
EVENTS_PER_SECOND_OF_RUN = 400  # signed per connection count; more than the gateway answers in a second
PATH_NAMES = {"ceiling": "ceiling", "referral_api": "POST /v1/referrals", "provider_events": "POST /v1/provider/events"}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    path: str  # "ceiling", "referral_api" (intake) or "provider_events"
    connections: int
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    ratio_to_ceiling: float
    server_cpu_ms_per_request: float  # the answering process's CPU (user + system), all its threads
    other_service_cpu_ms_per_request: float  # the other service's (its relay's work; for an event, referral_api deciding it)
    wrk_cpu_share: float  # wrk's CPU time over the run's time: near 1.0 per thread would make wrk the limit
    non_201: int  # intake: answers other than 201; events: answers other than 200 or 202, and events run out
    socket_errors: int
    answered_202: int = 0  # events: kept to follow an earlier message about the same case


class Databases:
    """Throw-away databases on a server, one per name; dropped by ``drop``."""

    def __init__(self, server_url: str, names: list[str]) -> None:
        self.server = make_url(server_url)
        tag = f"dl_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.names = {name: f"{tag}_{name}" for name in names}
        with self._admin() as conn:
            for database in self.names.values():
                conn.execute(f'CREATE DATABASE "{database}"')

    def url(self, name: str) -> str:
        return self.server.set(database=self.names[name]).render_as_string(hide_password=False)

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.server.render_as_string(hide_password=False), autocommit=True)

    def settings(self) -> dict[str, str]:
        with self._admin() as conn:
            return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in ("server_version", "fsync", "synchronous_commit")}

    def unsent_messages(self) -> int:
        """Outbox rows neither sent nor refused, in both services' databases."""
        count = 0
        for name, table in (("referral_api", "referral_outbox"), ("provider_gateway", "gateway_outbox")):
            with psycopg.connect(self.url(name)) as conn:
                count += conn.execute(f"SELECT count(*) FROM {table} WHERE sent_at IS NULL AND refused_at IS NULL").fetchone()[0]
        return count

    def drop(self) -> None:
        with self._admin() as conn:
            for database in self.names.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def start_ceiling(database_url: str, log_path: Path, timeout: float = 60.0) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(REPO / "benchmarks"), "ceiling_app:app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env={**os.environ, "BENCH_CEILING_DATABASE_URL": database_url},
        cwd=REPO, stdout=log_path.open("ab"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the ceiling app exited: see {log_path}")
        try:
            if httpx.get(f"{url}/health", timeout=0.5).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the ceiling app did not start")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14 and 15 of proc(5))


def wrk(url: str, connections: int, threads: int, seconds: float, script: Path, env: dict[str, str]) -> tuple[dict, float, str]:
    """One wrk run: what the script's `done` printed, wrk's own CPU seconds, and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    threads = min(threads, connections)
    done = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url],
        env={**os.environ, "BENCH_THREADS": str(threads), **env}, capture_output=True, text=True, timeout=seconds + 60,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = [line for line in done.stdout.splitlines() if line.startswith("bench-result ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(lines[-1].removeprefix("bench-result ")), used, done.stderr


def wait_until_quiet(databases: Databases, timeout: float) -> float:
    """Wait until the last run's referrals have been relayed and routed (the relays work after each
    201, on the same cores), so that no run pays for the one before it. Returns the seconds waited."""
    started = time.monotonic()
    while databases.unsent_messages() and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return time.monotonic() - started


def describe_machine(database_settings: dict[str, str]) -> dict[str, object]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), platform.processor())
    memory_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:"))

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()

    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("[")[0].strip()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": database_settings["server_version"],
        "postgresql_fsync": database_settings["fsync"],
        "postgresql_synchronous_commit": database_settings["synchronous_commit"],
        "wrk": wrk_version,
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
    }


def table(runs: list[Run], peak: dict[str, float], rss: dict[str, float]) -> str:
    header = (f"{'path':<26} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x ceiling':>9} {'x intake':>8} "
              f"{'CPU ms/req':>10} {'+ other':>7} {'wrk CPU':>7}")
    lines = [header, "-" * len(header)]
    intake = {run.connections: run.requests_per_second for run in runs if run.path == "referral_api"}
    for run in runs:
        versus_intake = f"{run.requests_per_second / intake[run.connections]:>8.2f}" if run.path == "provider_events" else " " * 8
        other = f"{run.other_service_cpu_ms_per_request:>7.2f}" if run.path != "ceiling" else " " * 7
        lines.append(
            f"{PATH_NAMES[run.path]:<26} {run.connections:>5} {run.requests_per_second:>8.0f} {run.p50_ms:>8.1f} {run.p99_ms:>8.1f} "
            f"{run.ratio_to_ceiling:>9.3f} {versus_intake} {run.server_cpu_ms_per_request:>10.2f} {other} {run.wrk_cpu_share:>7.0%}"
        )
    lines.append("RSS, peak during the runs: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in peak.items()))
    lines.append("RSS after the runs: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items()))
    return "\n".join(lines)


def steady_table(steady: list[dict[str, object]]) -> str:
    lines = []
    for row in steady:
        lines.append(f"{row['what']}, {row['sent']} at {row['rate_per_second']:.0f}/s: p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, "
                     f"p99 {row['p99_ms']} ms, max {row['max_ms']} ms; did not arrive: {row['missing']}")
    return "\n".join(lines)


class Bench:
    """The services, the ceiling and the throw-away databases of one `make bench`."""

    def __init__(self, args: argparse.Namespace, workdir: Path, workers: int) -> None:
        self.args = args
        self.workdir = workdir
        self.workers = workers  # processes per service, each with its relay and delivery worker
        self.databases = Databases(args.postgres_url, ["referral_api", "provider_gateway", "ceiling"])
        self.system = None
        self.ceiling: subprocess.Popen[bytes] | None = None
        self.runs: list[Run] = []
        self.steady: list[dict[str, object]] = []

    def start(self) -> None:
        upgrade("referral_api", self.databases.url("referral_api"))
        upgrade("provider_gateway", self.databases.url("provider_gateway"))
        # Production's settings: each service's defaults (INFO, JSON lines to its log file), the rate limits lifted.
        self.system = build_system(self.databases.url("referral_api"), self.databases.url("provider_gateway"), self.workdir,
                                   workers=self.workers)
        start_together(self.system.gateway, self.system.referral_api)
        self.service_pids = {"referral_api": self.system.referral_api.pids(), "provider_gateway": self.system.gateway.pids()}
        assert all(len(pids) == (1 if self.workers == 1 else 1 + self.workers) for pids in self.service_pids.values()), self.service_pids
        # A provider for the referrals' pathway and district, so each case is routed as in production.
        created = httpx.post(f"{self.system.gateway.url}/v1/admin/providers", headers=self.system.headers("admin"), json={
            "name": "Bench provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "bench@provider.example",
        })
        created.raise_for_status()
        self.provider_secret = created.json()["signing_secret"]
        self.provider_key = self.provider_key_for(created.json()["id"])
        self.ceiling, self.ceiling_url = start_ceiling(self.databases.url("ceiling"), self.workdir / "ceiling.log")

    def provider_key_for(self, provider_id: str) -> str:
        engine = make_engine(self.databases.url("provider_gateway"))
        try:
            return issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(provider_id))
        finally:
            engine.dispose()

    @property
    def pids(self) -> dict[str, list[int]]:
        """Each service's processes (its workers' supervisor too: its CPU is small, and counted)."""
        assert self.ceiling is not None
        return {**self.service_pids, "ceiling": [self.ceiling.pid]}

    def measure(self, path: str, connections: int, script: Path, env: dict[str, str]) -> Run:
        assert self.system is not None
        url = self.system.gateway.url if path == "provider_events" else self.ceiling_url if path == "ceiling" else self.system.referral_api.url
        answering = {"ceiling": "ceiling", "referral_api": "referral_api", "provider_events": "provider_gateway"}[path]
        other = "provider_gateway" if answering == "referral_api" else "referral_api"
        waited = wait_until_quiet(self.databases, timeout=30)
        cpu_before = {name: sum(map(cpu_seconds, pids)) for name, pids in self.pids.items()}
        result, wrk_cpu, stderr = wrk(url, connections, self.args.threads, self.args.seconds, script, env)
        seconds = result["duration_us"] / 1e6
        requests = max(result["requests"], 1)
        ceiling_rate = next((r.requests_per_second for r in self.runs if r.path == "ceiling" and r.connections == connections), None)
        rate = result["requests"] / seconds
        cpu_ms = {name: (sum(map(cpu_seconds, pids)) - cpu_before[name]) * 1000 / requests for name, pids in self.pids.items()}
        failed = result.get("non_201", 0) + result.get("failed", 0) + result.get("exhausted", 0)
        run = Run(
            path=path, connections=connections, requests=result["requests"], seconds=round(seconds, 2),
            requests_per_second=round(rate, 1), p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000,
            max_ms=result["max_us"] / 1000, ratio_to_ceiling=round(rate / (ceiling_rate or rate), 3),
            server_cpu_ms_per_request=round(cpu_ms[answering], 2), other_service_cpu_ms_per_request=round(cpu_ms[other], 2),
            wrk_cpu_share=round(wrk_cpu / seconds, 2), non_201=failed, socket_errors=result["socket_errors"],
            answered_202=result.get("answered_202", 0),
        )
        self.runs.append(run)
        queued = f", {run.answered_202} answered 202" if path == "provider_events" else ""
        print(f"{path} at {connections} connections: {rate:.0f}/s{queued} (waited {waited:.1f} s for the relays first)", flush=True)
        if failed or run.socket_errors:
            print(f"  {failed} answers failed or events ran out, {run.socket_errors} socket errors: {stderr.strip()}", flush=True)
        return run

    def run_all(self) -> None:
        assert self.system is not None
        police = {"BENCH_API_KEY": self.system.keys["police"]}
        for path, url in (("ceiling", self.ceiling_url), ("referral_api", self.system.referral_api.url)):  # imports, pools, caches
            wrk(url, 4, self.args.threads, self.args.warm_up, INTAKE_SCRIPT, {**police, "BENCH_RUN": f"w{path[0]}"})
        for connections in self.args.connections:
            for path in ("ceiling", "referral_api"):
                self.measure(path, connections, INTAKE_SCRIPT, {**police, "BENCH_RUN": f"c{connections}{path[0]}"})
        # Provider events about cases the intake runs created, accepted first (one at a time).
        cases = provider_events.routed_cases(self.databases.url("referral_api"), self.args.event_cases)
        provider_events.accept(self.system.gateway.url, self.provider_key, self.provider_secret, cases)
        provider = {"BENCH_API_KEY": self.provider_key}
        for connections in self.args.connections:
            events = provider_events.write_events(self.workdir / f"events-{connections}.tsv", self.provider_secret, cases,
                                                  EVENTS_PER_SECOND_OF_RUN * self.args.seconds)
            self.measure("provider_events", connections, EVENTS_SCRIPT, {**provider, "BENCH_EVENTS_FILE": str(events)})
        # End to end, at a steady rate: new cases for a webhook provider, then their acceptances.
        wait_until_quiet(self.databases, timeout=30)
        steady = SteadyRate(self.system.referral_api.url, self.system.gateway.url, self.system.keys["police"],
                            self.system.keys["referral_admin"], self.system.keys["admin"], self.provider_key_for)
        try:
            count = int(self.args.rate * self.args.seconds)
            to_provider, case_ids = steady.referral_to_provider(count, self.args.rate)
            wait_until_quiet(self.databases, timeout=30)
            to_police = steady.acceptance_to_police(case_ids, self.args.rate)
            self.steady = [to_provider.as_dict(), to_police.as_dict()]
        finally:
            steady.stop()
        print(steady_table(self.steady), flush=True)

    def stop(self) -> None:
        if self.ceiling is not None:
            self.ceiling.terminate()
            self.ceiling.wait(timeout=10)
        if self.system is not None:
            self.system.stop()
        self.databases.drop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="how long each wrk run lasts")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4, 32])
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (at most one per connection)")
    parser.add_argument("--warm-up", type=int, default=2, help="seconds of load on each app before the first run, not counted")
    parser.add_argument("--event-cases", type=int, default=400, help="accepted cases the provider events are about, taken in turn")
    parser.add_argument("--rate", type=float, default=50.0, help="calls per second in the end-to-end timings")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="processes per service (each with its relay and delivery worker), the whole suite once for each")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (make bench installs it: scripts/bench-debian-packages.txt)", file=sys.stderr)
        return 1
    suites = [run_suite(args, workers) for workers in args.workers]
    if len(suites) > 1:
        print()
        print(comparison(suites))
    return 0 if all(suite["all_answers_as_expected"] and suite["all_arrived"] for suite in suites) else 1


def comparison(suites: list[dict]) -> str:
    """Each path's throughput and p99 with one process per service and with more, side by side."""
    counts = [suite["workers_per_service"] for suite in suites]
    lines = ["processes per service: " + " | ".join(f"{n}: req/s, p99 ms" for n in counts) + f" | req/s {counts[-1]} / {counts[0]}"]
    by = [{(run["path"], run["connections"]): run for run in suite["runs"]} for suite in suites]
    for key in by[0]:
        if key[0] == "ceiling" or not all(key in runs for runs in by):
            continue
        cells = " | ".join(f"{runs[key]['requests_per_second']:.0f}, {runs[key]['p99_ms']:.0f}" for runs in by)
        lines.append(f"{PATH_NAMES[key[0]]:<26} {key[1]:>3} conns: {cells} | {by[-1][key]['requests_per_second'] / by[0][key]['requests_per_second']:.2f}")
    for row in range(len(suites[0]["end_to_end"])):
        what = suites[0]["end_to_end"][row]["what"]
        lines.append(f"{what}: p50/p99 ms " + " | ".join(f"{suite['end_to_end'][row]['p50_ms']}/{suite['end_to_end'][row]['p99_ms']}" for suite in suites))
    lines.append("largest process's peak RSS, MB: " + " | ".join(
        ", ".join(f"{name} {mb:.0f}" for name, mb in suite["rss_mb_peak_during_runs"].items() if name != "ceiling") for suite in suites))
    return "\n".join(lines)


def run_suite(args: argparse.Namespace, workers: int) -> dict:
    """The whole suite with ``workers`` processes per service, on databases of its own: printed, written, returned."""
    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-"))
    bench = Bench(args, workdir, workers)
    load_before = os.getloadavg()
    print(f"--- {workers} process{'es' if workers > 1 else ''} per service", flush=True)
    try:
        machine = describe_machine(bench.databases.settings())
        bench.start()
        with MemoryWatch(bench.pids) as memory:
            bench.run_all()
        rss = {name: largest_rss_mb(pids) for name, pids in bench.pids.items()}
    finally:
        bench.stop()

    runs = bench.runs
    answered = all(run.non_201 == 0 and run.socket_errors == 0 for run in runs)
    arrived = all(row["missing"] == 0 for row in bench.steady)
    print()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; Python {machine['python']}, "
          f"PostgreSQL {machine['postgresql']} (fsync {machine['postgresql_fsync']}, synchronous_commit "
          f"{machine['postgresql_synchronous_commit']}); commit {str(machine['git_commit'])[:10]}"
          f"{' (with uncommitted changes)' if machine['git_dirty'] else ''}")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; {args.seconds} s per run, "
          f"{workers} uvicorn worker{'s' if workers > 1 else ''} per service (the ceiling: one)")
    print(table(runs, memory.peak_mb, rss))
    # A steady rate the services cannot keep up with measures a queue growing, not a latency.
    best_intake = max((run.requests_per_second for run in runs if run.path == "referral_api"), default=0.0)
    backlog = args.rate > 0.9 * best_intake
    if backlog:
        print(f"the steady rate ({args.rate:.0f}/s) is above 90% of intake's best here ({best_intake:.0f}/s): "
              "the end-to-end times below include a backlog, not only the latency (--rate sets it)")
    print(steady_table(bench.steady))
    print("every answer as expected" if answered else "NOT every answer was as expected: see above")
    print("every referral and status change arrived" if arrived else "NOT everything arrived: see above")

    record = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds_per_run": args.seconds,
        "wrk_threads": args.threads,
        "workers_per_service": workers,
        "machine": machine,
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "runs": [asdict(run) for run in runs],
        "end_to_end": bench.steady,
        "end_to_end_rate_near_intake_capacity": backlog,
        "rss_mb_peak_during_runs": {name: round(mb, 1) for name, mb in memory.peak_mb.items()},
        "rss_mb_after_runs": {name: round(mb, 1) for name, mb in rss.items()},
        "all_answers_as_expected": answered,
        "all_arrived": arrived,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{started_at:%Y%m%dT%H%M%SZ}{f'-{workers}-workers' if workers > 1 else ''}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")
    if answered and arrived:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"the services' logs: {workdir}")
    return record


if __name__ == "__main__":
    sys.exit(main())
