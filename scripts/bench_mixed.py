"""Benchmark: many concurrent clients mixing police and provider calls on both services.

Each run starts both services as `make run` does (`diversion-link migrate`, `demo-seed`,
`serve`: real processes, demo data) on free ports, on SQLite files or on two throw-away
PostgreSQL databases (created on --postgres-url's server and dropped after). It prepares
accepted cases, then C clients each loop for D seconds over a random mix of: police POST
/v1/referrals, police GET of a case, a provider's signed event, a provider's pull. /health of
both services is sampled every 0.25 s throughout. For each run it prints p50/p95/p99/max per
kind, the 2xx/4xx/5xx/unanswered counts, /health latency, the 2xx calls without an audit
record, the "audit record not written" log lines, and the machine's load average.

The clients' rate limits are lifted (one demo key stands for many clients); the limit of
the gateway's service key is not a client's and is not lifted (none is set for it).
Run with `make bench-mixed`. Figures depend on the machine and what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.mixed_load import Deployment, lost_audit_records, report, run_mixed_load  # noqa: E402


# An access log line of a call answered 5xx (the deployment serves only the load, its preparation and the probes).
SERVER_ERROR = r'"logger": "diversion.access"[^\n]*"status": 5[0-9][0-9]'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[60, 200], help="concurrent clients, one run each")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each run's load lasts")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--timeout", type=float, default=60.0, help="a client gives up on a call after this many seconds")
    parser.add_argument("--cases", type=int, default=30, help="accepted cases the reads and events are about")
    parser.add_argument("--workers", type=int, nargs="+", default=[1],
                        help="processes per service, one run each (more than 1: PostgreSQL runs only)")
    args = parser.parse_args()

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}; "
          "both services, their databases and the clients on one host")
    failed = False
    runs = [(database, workers, clients) for database in args.database for workers in args.workers for clients in args.clients
            if workers == 1 or database == "postgresql"]
    for database, workers, clients in runs:
        workdir = Path(tempfile.mkdtemp(prefix=f"dl-bench-mixed-{database}-{clients}-"))
        deployment = Deployment(workdir, database, args.postgres_url, workers=workers)
        try:
            deployment.start()
            result = run_mixed_load(deployment, clients=clients, seconds=args.seconds, cases=args.cases, timeout=args.timeout)
            print(report(result, f"{database}, {workers} process{'es' if workers > 1 else ''} per service"), flush=True)
            deployment.stop_services()  # an audit record written after its answer has been written by now
            lost = lost_audit_records(deployment, result)
            print(f"  5xx in the services' access logs (some after the client gave up): {deployment.log_lines(SERVER_ERROR)}")
            print(f"  2xx calls without an audit record: {len(lost)}; "
                  f"'audit record not written' in the logs: {deployment.log_lines('audit record not written')}")
            failed |= bool(result.server_errors() or result.unanswered() or lost)
        finally:
            deployment.stop()
        print(flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
