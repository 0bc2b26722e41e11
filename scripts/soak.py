"""The soak: N referrals and their providers' events while processes are SIGKILLed at random.

Starts referral_api, provider_gateway and a gateway delivery worker as real processes on
fresh SQLite databases, or PostgreSQL (--database postgresql: a throw-away server made with
initdb, or --postgres-url to make the databases on one you have), a fake provider and a fake
police system that verify every signature. Then police systems refer N people while the
provider reports each one's programme (support/provider_events.py), and at K random moments
one of referral_api (with its outbox relay and police-notice worker), provider_gateway (with
its relay) or the delivery worker is SIGKILLed and started again. What is counted, and how:
tests/support/soak.py.

Prints the details on stderr, then one line on stdout:
    N accepted, N delivered, N lost, N duplicated
and exits 1 if anything was lost or duplicated, or a call got an answer it should not have.
Run with `make soak` (SOAK_REFERRALS=10000). Figures depend on the machine: quote them with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diversion_common.migrations import upgrade  # noqa: E402
from diversion_common.secrets_at_rest import new_key  # noqa: E402
from support.delivery_system import DeliverySystem  # noqa: E402
from support.postgres_cluster import ClusterUnavailable, PostgresCluster  # noqa: E402
from support.soak import FULL_PROGRAMME, SHORT_PROGRAMME, Soak  # noqa: E402
from support.two_services import build_system  # noqa: E402


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def postgres_databases(server_url: str) -> dict[str, str]:
    admin = create_engine(make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    urls = {}
    with admin.connect() as conn:
        for service in ("referral_api", "provider_gateway"):
            name = f"dl_soak_{uuid.uuid4().hex[:8]}_{service}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            urls[service] = make_url(server_url).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    admin.dispose()
    return urls


def drop_postgres_databases(server_url: str, urls: dict[str, str]) -> None:
    admin = create_engine(make_url(server_url).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for url in urls.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--referrals", type=int, default=10000)
    parser.add_argument("--kills", type=int, default=None, help="SIGKILLs in all (default: one per 100 referrals, at least 3)")
    parser.add_argument("-c", "--clients", type=int, default=8, help="police and provider systems calling at once")
    parser.add_argument("--seed", type=int, default=None, help="the kill plan's seed (default: random, printed)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=None, help="make the databases on this server, e.g. postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--programme", choices=("full", "short"), default="full", help="each case's events: the whole adult programme (12), or 4")
    parser.add_argument("--patience", type=float, default=300.0, help="seconds any one step may take (a call to get through, settling)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the services' (and a throw-away server's) logs even when all is well")
    args = parser.parse_args()
    kills = args.kills if args.kills is not None else max(3, args.referrals // 100)
    seed = args.seed if args.seed is not None else random.randrange(1_000_000)
    # Signing secrets are encrypted at rest: keys for this run's services (as tests/conftest.py does).
    for variable in ("REFERRAL_API_SECRETS_KEYS", "PROVIDER_GATEWAY_SECRETS_KEYS"):
        os.environ.setdefault(variable, new_key())

    workdir = Path(tempfile.mkdtemp(prefix="dl-soak-"))
    cluster: PostgresCluster | None = None
    server_url = args.postgres_url
    urls: dict[str, str] = {}
    system: DeliverySystem | None = None
    figures = None
    try:
        if args.database == "sqlite":
            urls = {service: f"sqlite:///{workdir}/{service}.db" for service in ("referral_api", "provider_gateway")}
        else:
            if server_url is None:
                try:
                    cluster = PostgresCluster.create().start()
                except ClusterUnavailable as reason:
                    say(f"no throw-away PostgreSQL server: {reason}; pass --postgres-url")
                    return 2
                server_url = cluster.url()
            urls = postgres_databases(server_url)
        for service, url in urls.items():
            upgrade(service, url)
        system = DeliverySystem.around(build_system(urls["referral_api"], urls["provider_gateway"], workdir), workdir)
        say(f"machine: {os.cpu_count()} CPUs, {cpu_model()}; {platform.python_implementation()} {platform.python_version()}")
        say(f"soak: {args.referrals} referrals, {kills} kills, {args.clients} clients, seed {seed}, {args.database}, "
            f"{args.programme} programme; logs in {workdir}")
        if server_url:
            say(f"database server: {make_url(server_url).render_as_string(hide_password=True)}")
        soak = Soak(
            system, referrals=args.referrals, kills=kills, clients=args.clients, seed=seed,
            programme=FULL_PROGRAMME if args.programme == "full" else SHORT_PROGRAMME, patience=args.patience, say=say,
            progress_seconds=30,
        )
        figures = soak.run()
        say(f"took {figures.seconds:.0f} s; kills: {dict(figures.kills)}")
        for what, count in sorted(figures.details.items()):
            say(f"  {what}: {count}")
        for what in figures.unexpected[:20]:
            say(f"  unexpected answer: {what}")
        if len(figures.unexpected) > 20:
            say(f"  ... and {len(figures.unexpected) - 20} more unexpected answers")
        print(figures.line(), flush=True)
        return 0 if figures.ok else 1
    finally:
        if system is not None:
            system.close()
            system.stop()
        if server_url and args.database == "postgresql" and urls and cluster is None:
            drop_postgres_databases(server_url, urls)
        if cluster is not None:
            if cluster.log.exists():
                shutil.copyfile(cluster.log, workdir / "postgresql.log")
            cluster.destroy()
        if figures is not None and figures.ok and not args.keep_logs:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            say(f"the services' logs are kept in {workdir}")


if __name__ == "__main__":
    raise SystemExit(main())
