"""Benchmark: does a case's cost grow with its log? A short case against a long one.

Starts both services as real processes on fresh SQLite databases and a provider, then
builds two cases routed to that provider and accepted over real HTTP: a short one
(10 facts, every one sent as a real event) and a long one, topped up to 10,000 facts by
writing contact attempts straight into the case log (as thousands of events would have:
sending them one by one through the old code would take hours, which is the point) and
settling the case as the service would. Then, alternating between the two cases, it times:
- GET /v1/referrals/{id} (the police's read of the case);
- GET /v1/referrals/{id}/timeline: a page of 10 on each case (the same page, so only the log's
  length differs), and the default first page (10 entries on the short case, 100 on the long one);
- a provider event (POST /v1/provider/events into the gateway, decided by referral_api);
and prints p50/p99 for each and the long/short ratio (target: at most 1.5).
Run with `make bench-long-case`. Figures depend on the machine: quote them with it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from diversion_common.credentials import Role  # noqa: E402
from diversion_common.database import make_engine  # noqa: E402
from diversion_common.migrations import upgrade  # noqa: E402
from provider_gateway.clients.tables import Client as GatewayClient  # noqa: E402
from referral_api.case_log.tables import CaseFact  # noqa: E402
from referral_api.cases.tables import Case  # noqa: E402
from support.credentials import bearer, issue_key  # noqa: E402
from support.gateway_flows import signed_event  # noqa: E402
from support.provider_events import event  # noqa: E402
from support.referrals import adult_referral  # noqa: E402
from support.two_services import build_system, percentile  # noqa: E402

SHORT, LONG = 10, 10_000


def settle(session: Session, case: Case) -> None:
    """Bring the case's stored projection in step with the facts written behind the service's back."""
    try:
        from referral_api.case_log.service import rebuild_state  # the snapshot, where there is one
    except ImportError:
        from referral_api.case_log.service import state_of

        case.version = state_of(session, case.id).version
        session.add(case)
        return
    rebuild_state(session, case)


def top_up(database_url: str, case_id: str, provider_id: str, total: int) -> None:
    """Contact attempts (each reaching the person) until the case's log holds ``total`` facts."""
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            case = session.get(Case, uuid.UUID(case_id))
            assert case is not None
            facts = list(session.scalars(select(CaseFact).where(CaseFact.case_id == case.id).order_by(CaseFact.seq)))  # type: ignore[arg-type]
            template = next(f for f in facts if f.kind == "contact.attempted")
            start, last = facts[-1].seq, template.occurred_at
            now = datetime.now(UTC)
            rows = [
                {
                    "case_id": case.id, "seq": seq, "kind": template.kind,
                    # Spread over the minutes before now, after the real attempt: late reports, as providers send.
                    "occurred_at": last + timedelta(milliseconds=seq - start), "recorded_at": now,
                    "source": template.source, "source_id": f"bench-{case.id}-{seq}", "actor_client_id": None,
                    "data": dict(template.data),
                }
                for seq in range(start + 1, total + 1)
            ]
            session.execute(insert(CaseFact), rows)
            settle(session, case)
            session.commit()
    finally:
        engine.dispose()


def timed(call, undecided: list[int]) -> float:
    """The answer time in ms. An event referral_api did not decide within the gateway's wait
    (202, "pending") is counted: its time is the wait, not the cost."""
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code == 202:
        undecided.append(1)
    else:
        assert response.status_code == 200, response.text
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=100, help="measurements of each call on each case")
    parser.add_argument("--long", type=int, default=LONG, help="facts on the long case")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="dl-bench-long-case-"))
    referral_db, gateway_db = f"sqlite:///{workdir}/referral_api.db", f"sqlite:///{workdir}/provider_gateway.db"
    upgrade("referral_api", referral_db)
    upgrade("provider_gateway", gateway_db)
    system = build_system(referral_db, gateway_db, workdir, {
        "REFERRAL_API_LOG_LEVEL": "WARNING", "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING",
        "REFERRAL_API_RELAY_POLL_SECONDS": "0.2", "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
    })
    try:
        system.gateway.start(timeout=180)  # a busy shared machine can take a while to start them
        system.referral_api.start(timeout=180)
        api, gateway = system.referral_api.url, system.gateway.url
        created = httpx.post(f"{gateway}/v1/admin/providers", headers=system.headers("admin"), json={
            "name": "Bench provider", "pathways": ["adult_deferred_summons"], "districts": ["reading"],
            "delivery_mode": "pull", "contact_email": "bench@provider.example",
        })
        created.raise_for_status()
        secret, provider_id = created.json()["signing_secret"], created.json()["id"]
        engine = make_engine(gateway_db)
        provider_key = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(provider_id)))
        engine.dispose()

        police = httpx.Client(base_url=api, headers=system.headers("police"), timeout=120)
        provider = httpx.Client(base_url=gateway, headers=provider_key, timeout=120)

        def send(case_id: str, type_: str, **data):
            raw, headers = signed_event(secret, event(type_, case_id, **data))
            return provider.post("/v1/provider/events", content=raw, headers=headers)

        def contact(case_id: str):
            return send(case_id, "contact.attempted", method="phone", outcome="reached")

        cases = {}
        for name in ("short", "long"):
            case_id = police.post("/v1/referrals", json=adult_referral()).json()["id"]
            while police.get(f"/v1/referrals/{case_id}").json()["status"] != "routed":
                time.sleep(0.05)
            assert send(case_id, "referral.accepted").status_code == 200
            while police.get(f"/v1/referrals/{case_id}").json()["version"] < SHORT:
                assert contact(case_id).status_code == 200
            cases[name] = case_id
        started = time.perf_counter()
        top_up(referral_db, cases["long"], provider_id, args.long)
        built = time.perf_counter() - started
        versions = {name: police.get(f"/v1/referrals/{case_id}").json()["version"] for name, case_id in cases.items()}

        calls = {
            "GET /v1/referrals/{id}": lambda case_id: police.get(f"/v1/referrals/{case_id}"),
            # The same page on both (the short case's whole log), so only the log's length differs...
            f"GET .../timeline?limit={SHORT}": lambda case_id: police.get(f"/v1/referrals/{case_id}/timeline", params={"limit": SHORT}),
            # ...and the default page, which holds 10 entries on the short case and 100 on the long one.
            "GET .../timeline (default page)": lambda case_id: police.get(f"/v1/referrals/{case_id}/timeline"),
            "POST /v1/provider/events": contact,
        }
        figures: dict[tuple[str, str], list[float]] = {}
        undecided: dict[tuple[str, str], list[int]] = {}
        for label, call in calls.items():
            for _ in range(args.n):
                for name, case_id in cases.items():  # alternating, so both see the same machine
                    key = (label, name)
                    figures.setdefault(key, []).append(timed(lambda: call(case_id), undecided.setdefault(key, [])))

        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, SQLite, "
              "both services and this client on one host")
        print(f"cases: short {versions['short']} facts, long {versions['long']} facts "
              f"(long case's log written in {built:.1f} s); n={args.n} of each call on each case, alternating")
        print(f"{'call':34} {'short p50':>10} {'short p99':>10} {'long p50':>10} {'long p99':>10} {'p50 ratio':>10} {'p99 ratio':>10}")
        for label in calls:
            short, long = figures[(label, "short")], figures[(label, "long")]
            s50, s99, l50, l99 = (percentile(short, 50), percentile(short, 99), percentile(long, 50), percentile(long, 99))
            late = {name: len(undecided[(label, name)]) for name in cases}
            note = f"  (202, not decided in time: short {late['short']}, long {late['long']})" if any(late.values()) else ""
            print(f"{label:34} {s50:8.1f}ms {s99:8.1f}ms {l50:8.1f}ms {l99:8.1f}ms {l50 / s50:9.2f}x {l99 / s99:9.2f}x{note}")
        police.close()
        provider.close()
    finally:
        system.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
