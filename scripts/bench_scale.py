"""Benchmark: do reads stay fast as years of cases pile up? (`make bench-scale`)

On throw-away PostgreSQL databases (created on --postgres-url's server, dropped after), one pair
per scale, it loads each with --scales cases in bulk (benchmarks/suite/bulk_load.py: templates
written with the service's own code, then cloned server-side), runs VACUUM ANALYZE and a
CHECKPOINT, starts the services on each as `make bench` does (one uvicorn worker each,
production settings, the breach checks off: reads are what is timed) and times with wrk
(benchmarks/reads.lua, --connections, --seconds per path), each scale in turn, --rounds times:
- a police system's `GET /v1/referrals/{id}` of a random case of its force;
- the first page of a random case's timeline, `GET /v1/referrals/{id}/timeline`;
- a court's `GET /v1/breach-requests?status=submitted` (its own, one page).
Taking the scales in turn, round after round, puts a slow minute of this shared machine on both
scales alike. It prints the median over the rounds of p50/p99 per path and scale, each round's
p99, and the growth ratio (the median p99 at the largest scale over the smallest's; issue 25's
target is at most 1.3), and writes the rows to benchmarks/results/scale-<UTC time>.json. With
--explain, the statements each path runs at the largest scale are captured in process and their
EXPLAIN (ANALYZE, BUFFERS) plans written beside it (scale-<UTC time>-plans.txt).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from typing import Any
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench import Databases, describe_machine, wrk  # noqa: E402
from diversion_common.credentials import Role  # noqa: E402
from diversion_common.database import make_engine  # noqa: E402
from diversion_common.migrations import upgrade  # noqa: E402
from referral_api.clients.tables import Client as ReferralClient  # noqa: E402
from suite.bulk_load import IndexesSetAside, build_templates, clone  # noqa: E402
from support.credentials import issue_key  # noqa: E402
from support.processes import REPO, start_together  # noqa: E402
from support.two_services import build_system  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
READS_SCRIPT = REPO / "benchmarks" / "reads.lua"
FORCE = "thames-valley"
BATCH = 50_000  # clones per transaction


def load_to(url: str, templates: list, want: int) -> float:
    """Clone into an empty database until it holds ``want`` clones; the seconds it took (with VACUUM ANALYZE and a CHECKPOINT)."""
    started = time.monotonic()
    have = 0
    # A large load sets the plain indexes aside and builds them once at its end.
    with IndexesSetAside(url) if want > BATCH else contextlib.nullcontext():
        while have < want:
            upto = min(want, have + BATCH)
            clone(url, templates, have + 1, upto)
            have = upto
            print(f"  {have:,} cases loaded ({time.monotonic() - started:.0f} s)", flush=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        # The load's dirty pages written out now, not by a checkpoint during the first path's reads:
        # the reads are timed on the data's size, not on the aftermath of loading it.
        conn.execute("CHECKPOINT")
    return time.monotonic() - started


def sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        counts = {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # type: ignore[index]
                  for table in ("referral_cases", "referral_case_facts", "referral_breach_requests")}
        counts["database_bytes"] = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    return counts


def read_paths(url: str, court: str, workdir: Path) -> dict[str, Path]:
    """Files of paths for each read: a sample of this force's cases, and the court's page."""
    with psycopg.connect(url) as conn:
        # A random sample across the whole table, not the newest: reads of old cases count too.
        cases = [str(row[0]) for row in conn.execute(
            "SELECT id FROM referral_cases TABLESAMPLE SYSTEM_ROWS(20000) WHERE force = %s", (FORCE,))]
    random.shuffle(cases)
    files = {}
    for name, lines in (
        ("GET /v1/referrals/{id}", [f"/v1/referrals/{case}" for case in cases]),
        ("GET /v1/referrals/{id}/timeline", [f"/v1/referrals/{case}/timeline" for case in cases]),
        ("court GET /v1/breach-requests", [f"/v1/breach-requests?status=submitted&court={court}"]),
    ):
        path = workdir / f"paths-{len(files)}.txt"
        path.write_text("\n".join(lines) + "\n")
        files[name] = path
    return files


def reads_below(url: str) -> dict[str, float]:
    """Counters of reads that missed PostgreSQL's shared buffers (served by the OS's page cache or
    the disk) and of what the machine's disks read, so that a slow tail can be told apart from
    pages read cold (docs/PERFORMANCE.md, "bench-scale")."""
    with psycopg.connect(url) as conn:
        blocks = conn.execute("SELECT blks_read FROM pg_stat_database WHERE datname = current_database()").fetchone()[0]  # type: ignore[index]
    sectors = 0
    for line in Path("/proc/diskstats").read_text().splitlines():
        fields = line.split()
        if re.fullmatch(r"(sd|vd|xvd)[a-z]+|nvme\d+n\d+", fields[2]):  # whole disks, not their partitions
            sectors += int(fields[5])
    return {"blocks_from_os": blocks, "disk_read_mb": sectors * 512 / 2**20}


def court_client(url: str, court: str) -> str:
    engine = make_engine(url)
    try:
        return issue_key(engine, ReferralClient, Role.court, court=court)
    finally:
        engine.dispose()


def busiest_court(url: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT court FROM referral_breach_requests WHERE status = 'submitted' GROUP BY court ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]  # type: ignore[index]


@dataclass
class LoadedScale:
    url: str
    counted: dict[str, int]
    court_key: str
    paths: dict[str, Path]


def load_scale(databases: Databases, scale: int, workdir: Path) -> LoadedScale:
    """A database pair holding ``scale`` cases, with what its reads need."""
    url = databases.url(f"referral_api_{scale}")
    upgrade("referral_api", url)
    upgrade("provider_gateway", databases.url(f"provider_gateway_{scale}"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS tsm_system_rows")
    engine = make_engine(url)
    templates = build_templates(engine)
    engine.dispose()
    print(f"loading {scale:,} cases", flush=True)
    seconds = load_to(url, templates, scale - len(templates))
    counted = sizes(url)
    court = busiest_court(url)
    print(f"{counted['referral_cases']:,} cases, {counted['referral_case_facts']:,} facts, "
          f"{counted['referral_breach_requests']:,} breach requests, {counted['database_bytes'] / 2**30:.1f} GiB; "
          f"loaded in {seconds:.0f} s", flush=True)
    folder = workdir / str(scale)
    folder.mkdir()
    return LoadedScale(url=url, counted=counted, court_key=court_client(url, court), paths=read_paths(url, court, folder))


def summarise(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scale and path, the median over the rounds of each figure, and each round's p99."""
    summary = []
    for key in dict.fromkeys((row["scale"], row["path"]) for row in results):
        rows = [row for row in results if (row["scale"], row["path"]) == key]
        first = {name: value for name, value in rows[0].items() if name != "round"}
        summary.append({**first, **{figure: round(statistics.median(row[figure] for row in rows), 1)
                                    for figure in ("p50_ms", "p99_ms", "requests_per_second")},
                        "p99_by_round": [row["p99_ms"] for row in rows]})
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scales", type=int, nargs="+", default=[10_000, 1_000_000], help="cases in the database, in increasing order")
    parser.add_argument("--seconds", type=int, default=10, help="wrk's run per path and scale")
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3, help="times each scale's paths are read, the scales in turn; the medians are reported")
    parser.add_argument("--explain", action="store_true", help="capture each path's statements at the largest scale and EXPLAIN them")
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("error: wrk is not installed (make bench-scale installs it: scripts/bench-debian-packages.txt)", file=sys.stderr)
        return 1

    started_at = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-scale-"))
    # One pair of databases per scale, each loaded once, so that every round reads each scale in turn.
    databases = Databases(args.postgres_url, [f"{service}_{scale}" for scale in args.scales for service in ("referral_api", "provider_gateway")])
    results: list[dict[str, object]] = []
    plans = ""
    systems: dict[int, Any] = {}
    try:
        machine = describe_machine(databases.settings())
        scales = {scale: load_scale(databases, scale, workdir) for scale in args.scales}
        for scale, loaded in scales.items():
            # Reads only: the breach checks (a pass every minute over the cases due) are not part of what is timed.
            systems[scale] = build_system(loaded.url, databases.url(f"provider_gateway_{scale}"), workdir / str(scale),
                                          {"REFERRAL_API_RUN_BREACH_SCHEDULER": "false"})
        start_together(*(service for system in systems.values() for service in (system.gateway, system.referral_api)))
        for round_number in range(1, args.rounds + 1):
            for scale, loaded in scales.items():
                system = systems[scale]
                keys = {"court GET /v1/breach-requests": loaded.court_key}
                for name, paths in loaded.paths.items():
                    key = keys.get(name, system.keys["police"])
                    warm = {"BENCH_API_KEY": key, "BENCH_PATHS_FILE": str(paths)}
                    if round_number == 1:
                        wrk(system.referral_api.url, args.connections, 1, 2, READS_SCRIPT, warm)
                    before = reads_below(loaded.url)
                    result, _cpu, stderr = wrk(system.referral_api.url, args.connections, 1, args.seconds, READS_SCRIPT, warm)
                    below = {counter: after - before[counter] for counter, after in reads_below(loaded.url).items()}
                    row = {"round": round_number, "scale": scale, "path": name,
                           "requests_per_second": round(result["requests"] / (result["duration_us"] / 1e6), 1),
                           "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000, "max_ms": result["max_us"] / 1000,
                           "non_200": result["non_200"], "socket_errors": result["socket_errors"], **below, **loaded.counted}
                    results.append(row)
                    print(f"  round {round_number}, {scale:,} cases, {name}: p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms "
                          f"({row['requests_per_second']}/s); {below['blocks_from_os']:,} blocks read past PostgreSQL's buffers, "
                          f"{below['disk_read_mb']:.1f} MB from the disk"
                          f"{'; NOT all 200: ' + stderr.strip() if result['non_200'] or result['socket_errors'] else ''}", flush=True)
        if args.explain:
            from suite.explain import explain_reads  # the app in process: only when asked

            largest = args.scales[-1]
            loaded = scales[largest]
            plans = explain_reads(systems[largest].env, loaded.paths, systems[largest].keys["police"], loaded.court_key)
    finally:
        for system in systems.values():
            system.stop()
        databases.drop()

    print()
    print(f"machine: {machine['cpu']}, {machine['cores']} cores; PostgreSQL {machine['postgresql']}; commit {str(machine['git_commit'])[:10]}"
          f"{' (with uncommitted changes)' if machine['git_dirty'] else ''}; {args.connections} connection(s), {args.seconds} s per path")
    header = f"{'path':<34} {'cases':>10} {'facts':>12} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}  p99 of each round"
    print(header)
    print("-" * len(header))
    summary = summarise(results)
    for row in summary:
        print(f"{row['path']:<34} {row['referral_cases']:>10,} {row['referral_case_facts']:>12,} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
              f"{row['requests_per_second']:>7}  {', '.join(f'{p99:.1f}' for p99 in row['p99_by_round'])}")
    growth = {}
    for name in dict.fromkeys(str(row["path"]) for row in summary):
        rows = [row for row in summary if row["path"] == name]
        growth[name] = round(float(rows[-1]["p99_ms"]) / float(rows[0]["p99_ms"]), 2)  # type: ignore[arg-type]
        print(f"growth of {name}'s p99 (median of {args.rounds} rounds), {rows[0]['scale']:,} -> {rows[-1]['scale']:,} cases: {growth[name]:.2f}x")
    all_200 = all(row["non_200"] == 0 and row["socket_errors"] == 0 for row in results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scale-{started_at:%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"started_at": started_at.isoformat(timespec="seconds"), "machine": machine, "connections": args.connections,
                               "seconds_per_path": args.seconds, "rounds": args.rounds, "reads": results, "summary": summary, "p99_growth": growth, "all_200": all_200}, indent=2) + "\n")
    if plans:
        out.with_name(f"{out.stem}-plans.txt").write_text(plans)
    print(f"written to {out.relative_to(REPO)}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0 if all_200 else 1


if __name__ == "__main__":
    sys.exit(main())
