"""Benchmark: referral intake against a ceiling measured in the same run (`make bench`).

On throw-away PostgreSQL databases (created on --postgres-url's server, migrated, dropped
after), it starts both services as production runs them (uvicorn, one worker each, logging
JSON at INFO to a file, no debug; the clients' rate limits lifted as in every benchmark, one
key standing for many police systems) and the ceiling app (benchmarks/ceiling_app.py: the same
body, the same model, one row inserted with raw asyncpg). Then for each number of connections
it runs wrk (benchmarks/intake.lua) for --seconds against the ceiling, then against
`POST /v1/referrals`, and prints requests/s, p50 and p99, and each figure's ratio to the
ceiling's at the same connections, then each process's RSS. Every answer must be a 201.
The same is written to benchmarks/results/<UTC time>.json with the machine's description.
docs/PERFORMANCE.md says how to read it.
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

from diversion_common.migrations import upgrade  # noqa: E402
from support.processes import REPO, free_port, start_together  # noqa: E402
from support.two_services import build_system  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
WRK_SCRIPT = REPO / "benchmarks" / "intake.lua"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    path: str  # "ceiling" or "referral_api"
    connections: int
    requests: int
    seconds: float
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    ratio_to_ceiling: float
    server_cpu_ms_per_request: float  # the answering process's CPU (user + system), all its threads
    wrk_cpu_share: float  # wrk's CPU time over the run's time: near 1.0 per thread would make wrk the limit
    non_201: int
    socket_errors: int


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


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def wrk(url: str, connections: int, threads: int, seconds: float, api_key: str, tag: str) -> tuple[dict, float, str]:
    """One wrk run: what intake.lua's `done` printed, wrk's own CPU seconds, and its stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
         "-s", str(WRK_SCRIPT), url],
        env={**os.environ, "BENCH_API_KEY": api_key, "BENCH_RUN": tag}, capture_output=True, text=True, timeout=seconds + 60,
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


def table(runs: list[Run], rss: dict[str, float]) -> str:
    header = f"{'path':<22} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'x ceiling':>9} {'CPU ms/req':>10} {'wrk CPU':>7}"
    lines = [header, "-" * len(header)]
    for run in runs:
        name = "ceiling" if run.path == "ceiling" else "POST /v1/referrals"
        lines.append(
            f"{name:<22} {run.connections:>5} {run.requests_per_second:>8.0f} {run.p50_ms:>8.1f} {run.p99_ms:>8.1f} "
            f"{run.ratio_to_ceiling:>9.3f} {run.server_cpu_ms_per_request:>10.2f} {run.wrk_cpu_share:>7.0%}"
        )
    lines.append("RSS after the runs: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss.items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="how long each wrk run lasts")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 4, 32])
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (at most one per connection)")
    parser.add_argument("--warm-up", type=int, default=2, help="seconds of load on each app before the first run, not counted")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (make bench installs it: scripts/bench-debian-packages.txt)", file=sys.stderr)
        return 1

    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-"))
    databases = Databases(args.postgres_url, ["referral_api", "provider_gateway", "ceiling"])
    system, ceiling = None, None
    runs: list[Run] = []
    load_before = os.getloadavg()
    try:
        machine = describe_machine(databases.settings())
        upgrade("referral_api", databases.url("referral_api"))
        upgrade("provider_gateway", databases.url("provider_gateway"))
        # Production's settings: each service's defaults (INFO, JSON lines to its log file), the rate limits lifted.
        system = build_system(databases.url("referral_api"), databases.url("provider_gateway"), workdir)
        start_together(system.gateway, system.referral_api)
        # A provider for the referrals' pathway and district, so each case is routed as in production.
        httpx.post(f"{system.gateway.url}/v1/admin/providers", headers=system.headers("admin"), json={
            "name": "Bench provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "bench@provider.example",
        }).raise_for_status()
        ceiling, ceiling_url = start_ceiling(databases.url("ceiling"), workdir / "ceiling.log")
        targets = {"ceiling": (ceiling_url, ceiling.pid), "referral_api": (system.referral_api.url, system.referral_api.process.pid)}
        police_key = system.keys["police"]

        for path, (url, _pid) in targets.items():  # first calls: imports, pools, caches
            wrk(url, 4, args.threads, args.warm_up, police_key, f"w{path[0]}")
        ceiling_rate: dict[int, float] = {}
        for connections in args.connections:
            for path, (url, pid) in targets.items():
                waited = wait_until_quiet(databases, timeout=30)
                cpu_before = cpu_seconds(pid)
                result, wrk_cpu, stderr = wrk(url, connections, args.threads, args.seconds, police_key, f"c{connections}{path[0]}")
                seconds = result["duration_us"] / 1e6
                rate = result["requests"] / seconds
                if path == "ceiling":
                    ceiling_rate[connections] = rate
                run = Run(
                    path=path, connections=connections, requests=result["requests"], seconds=round(seconds, 2),
                    requests_per_second=round(rate, 1), p50_ms=result["p50_us"] / 1000, p99_ms=result["p99_us"] / 1000,
                    max_ms=result["max_us"] / 1000, ratio_to_ceiling=round(rate / ceiling_rate[connections], 3),
                    server_cpu_ms_per_request=round((cpu_seconds(pid) - cpu_before) * 1000 / max(result["requests"], 1), 2),
                    wrk_cpu_share=round(wrk_cpu / seconds, 2), non_201=result["non_201"], socket_errors=result["socket_errors"],
                )
                runs.append(run)
                print(f"{path} at {connections} connections: {rate:.0f}/s (waited {waited:.1f} s for the relays first)", flush=True)
                if run.non_201 or run.socket_errors:
                    print(f"  {run.non_201} answers were not 201, {run.socket_errors} socket errors: {stderr.strip()}", flush=True)
        rss = {"referral_api": rss_mb(system.referral_api.process.pid), "provider_gateway": rss_mb(system.gateway.process.pid),
               "ceiling": rss_mb(ceiling.pid)}
    finally:
        if ceiling is not None:
            ceiling.terminate()
            ceiling.wait(timeout=10)
        if system is not None:
            system.stop()
        databases.drop()

    all_201 = all(run.non_201 == 0 and run.socket_errors == 0 for run in runs)
    print()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB; Python {machine['python']}, "
          f"PostgreSQL {machine['postgresql']} (fsync {machine['postgresql_fsync']}, synchronous_commit "
          f"{machine['postgresql_synchronous_commit']}); commit {str(machine['git_commit'])[:10]}"
          f"{' (with uncommitted changes)' if machine['git_dirty'] else ''}")
    print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}; {args.seconds} s per run, one uvicorn worker each")
    print(table(runs, rss))
    print("every answer 201" if all_201 else "NOT every answer was 201: see above")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{started_at:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds_per_run": args.seconds,
        "wrk_threads": args.threads,
        "machine": machine,
        "load_average": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
        "runs": [asdict(run) for run in runs],
        "rss_mb_after_runs": {name: round(mb, 1) for name, mb in rss.items()},
        "all_201": all_201,
    }, indent=2) + "\n")
    print(f"written to {out.relative_to(REPO)}")
    if all_201:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"the services' logs: {workdir}")
    return 0 if all_201 else 1


if __name__ == "__main__":
    sys.exit(main())
