"""Breach requests end to end: real processes, real HTTP, every outside party speaking the real protocol.

Both services run as uvicorn processes on one database each (SQLite, and PostgreSQL when
TEST_POSTGRES_URL is set). The treatment provider is a fake webhook endpoint that verifies
what the gateway sends it, and sends its own events signed with the public `standardwebhooks`
package; the police system, the court's system and the YJU's system are fake receivers that
verify every signature the same way. The time-based rules are run with a controlled clock by
a process of the tests' own that calls the scheduler's job function (CLOCKED_RUN_CHECKS below:
the CLI acts on the real clock only); the services' own scheduler is off.

The processes are shared by the module's tests (starting them is most of the cost), so every
assertion is about the test's own cases and requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from diversion_common.contracts import PoliceCaseNoticeData
from diversion_common.credentials import Role
from diversion_common.database import as_utc, make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from referral_api.breaches.tables import BreachRequestRow
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case
from referral_api.clients.tables import Client as ReferralClient
from referral_api.callbacks.tables import CallbackDelivery
from support.credentials import bearer, issue_key
from support.processes import REPO, cli, wait_for
from support.provider_events import AT_BOOKING, Provider
from support.fast_delivery import FAST_NOTIFICATIONS, FAST_PROVIDER_DELIVERY
from support.referrals import adult_referral, youth_referral
from support.two_services import System, build_system
from support.webhook_receiver import WebhookReceiver

FORCE = "thames-valley"
COURT = "reading-magistrates"

ENVIRONMENT = {
    **FAST_NOTIFICATIONS,
    **FAST_PROVIDER_DELIVERY,
    # Messages written by another process (the CLI's checks) are found by polling.
    "REFERRAL_API_RELAY_POLL_SECONDS": "0.1",
    "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.1",
    # The clock-driven rules run only when a test runs them, at the time it chooses.
    "REFERRAL_API_RUN_BREACH_SCHEDULER": "false",
}

STARTUP_SECONDS = 120.0

# How long to wait for something another process does: reached at once on a quiet machine, the
# margin is for a busy one (wait_for returns as soon as it is true).
WAIT = 30.0

BREACH_UPDATED, BREACH_SUBMITTED, CASE_NOTICE = "breach_request.updated", "breach_request.submitted", "case.notice"


@dataclass
class Breaches:
    system: System
    backend: str
    api: httpx.Client  # referral_api
    engine: Engine  # referral_api's database, for what no API shows (facts, queued deliveries)
    provider: Provider  # the provider's own system, sending signed events to the gateway
    provider_endpoint: WebhookReceiver  # ... and its webhook endpoint, receiving from the gateway
    police_system: WebhookReceiver
    court_system: WebhookReceiver
    yju_system: WebhookReceiver
    police: dict[str, str]
    court: dict[str, str]
    yju: dict[str, str]


@pytest.fixture(scope="module")
def breaches(module_fresh_database, module_backend, tmp_path_factory) -> Iterator[Breaches]:
    referral_db, gateway_db = module_fresh_database("referral_api"), module_fresh_database("provider_gateway")
    system = build_system(referral_db, gateway_db, tmp_path_factory.mktemp("breach-flows"), ENVIRONMENT)
    receivers = [WebhookReceiver().start() for _ in range(4)]
    provider_endpoint, police_system, court_system, yju_system = receivers
    engine = make_engine(referral_db)
    try:
        # The services and the court's callback registration (the CLI) start side by side; on a
        # busy machine three such processes can take more than ServiceProcess's usual 30 s to be up.
        with ThreadPoolExecutor(3) as pool:
            started = [pool.submit(system.gateway.start, STARTUP_SECONDS), pool.submit(system.referral_api.start, STARTUP_SECONDS)]
            court_registered = pool.submit(cli, system.env, "callbacks", "set", "--court", COURT, "--url", court_system.url, "--json")
            for future in started:
                future.result()
            registered = court_registered.result()
        assert registered.returncode == 0, registered.stderr
        court_system.secrets = [json.loads(registered.stdout)["signing_secret"]]
        api = httpx.Client(base_url=system.referral_api.url, timeout=10)
        admin = system.headers("referral_admin")
        for receiver, path in ((police_system, f"/v1/admin/police-callbacks/{FORCE}"), (yju_system, f"/v1/admin/yju-callbacks/{FORCE}")):
            response = api.put(path, json={"url": receiver.url}, headers=admin)
            assert response.status_code == 201, response.text
            receiver.secrets = [response.json()["signing_secret"]]

        gateway = httpx.Client(base_url=system.gateway.url, timeout=10)
        created = gateway.post("/v1/admin/providers", headers=system.headers("admin"), json={
            "name": "Reading Drug and Young People's Service",
            "pathways": ["adult_deferred_summons", "youth_community_resolution"],
            "districts": ["reading"],
            "delivery_mode": "webhook",
            "webhook_url": provider_endpoint.url,
            "contact_email": "intake@provider.example",
        })
        assert created.status_code == 201, created.text
        record = created.json()
        provider_endpoint.secrets = [record["signing_secret"]]
        gateway_engine = make_engine(gateway_db)
        provider_key = bearer(issue_key(gateway_engine, GatewayClient, Role.provider, provider_id=uuid.UUID(record["id"])))
        gateway_engine.dispose()

        yield Breaches(
            system=system, backend=module_backend, api=api, engine=engine,
            provider=Provider(gateway, record, provider_key), provider_endpoint=provider_endpoint,
            police_system=police_system, court_system=court_system, yju_system=yju_system,
            police=system.headers("police"),
            court=bearer(issue_key(engine, ReferralClient, Role.court, court=COURT)),
            yju=bearer(issue_key(engine, ReferralClient, Role.yju, force=FORCE)),
        )
        # Whatever a test looked at, nothing anyone received was forged or mis-signed.
        for receiver in receivers:
            assert all(r.verified for r in receiver.received), [r.webhook_id for r in receiver.received if not r.verified]
    finally:
        system.stop()
        for receiver in receivers:
            receiver.stop()
        engine.dispose()


# --- steps ------------------------------------------------------------------------------------


def case(b: Breaches, case_id: str) -> dict[str, Any]:
    response = b.api.get(f"/v1/referrals/{case_id}", headers=b.police)
    assert response.status_code == 200, response.text
    return response.json()


def refer(b: Breaches, *bodies: dict[str, Any]) -> list[str]:
    """Referrals from the force's system; returned once the gateway has delivered each to the provider."""
    case_ids = []
    for body in bodies:
        response = b.api.post("/v1/referrals", json=body, headers=b.police)
        assert response.status_code == 201, response.text
        case_ids.append(response.json()["id"])
    missing = lambda: set(case_ids) - set(delivered_to_provider(b, "referral.created"))  # noqa: E731
    assert wait_for(lambda: not missing(), timeout=WAIT), f"never reached the provider: {missing()}"
    for case_id in case_ids:
        assert wait_for(lambda: case(b, case_id)["status"] == "routed", timeout=WAIT), case(b, case_id)["status"]
    return case_ids


def accepted(b: Breaches, *bodies: dict[str, Any]) -> list[str]:
    case_ids = refer(b, *bodies)
    for case_id in case_ids:
        assert b.provider.report("referral.accepted", case_id)["case_status"] == "accepted_by_provider"
    return case_ids


def miss(b: Breaches, case_id: str, appointment_id: str, reason: str = "unacceptable") -> str:
    b.provider.report("appointment.booked", case_id, appointment_id=appointment_id, kind="session", starts_at=AT_BOOKING, mode="in_person")
    return b.provider.report("appointment.missed", case_id, appointment_id=appointment_id, reason_category=reason)["case_status"]


def delivered_to_provider(b: Breaches, event_type: str) -> list[str]:
    return [r.payload["data"]["case_id"] for r in b.provider_endpoint.accepted() if r.verified and r.payload["type"] == event_type]


def messages(receiver: WebhookReceiver, event_type: str, **match: Any) -> list[dict[str, Any]]:
    """The verified messages of a type whose data has the given values, one per webhook-id (a retry is the same message)."""
    seen: dict[str, dict[str, Any]] = {}
    for r in receiver.accepted():
        if r.verified and r.payload["type"] == event_type and all(r.payload["data"].get(k) == v for k, v in match.items()):
            seen.setdefault(r.webhook_id, r.payload["data"])
    return list(seen.values())


def steps_told(receiver: WebhookReceiver, request_id: str, *event_types: str) -> list[tuple[str, int, str]]:
    """(type, version, status) of each message about a request, by version: the order a receiver keeps them in."""
    told = [(t, m["version"], m["status"]) for t in event_types for m in messages(receiver, t, breach_request_id=request_id)]
    return sorted(told, key=lambda step: step[1])


def wait_until_told(receiver: WebhookReceiver, request_id: str, expected: list[tuple[str, int, str]], *event_types: str) -> None:
    told = lambda: steps_told(receiver, request_id, *event_types)  # noqa: E731
    assert wait_for(lambda: told() == expected, timeout=WAIT), told()


def listed(b: Breaches, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every breach request the caller may see, page by page."""
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100}
    while True:
        response = b.api.get("/v1/breach-requests", headers=headers, params=params)
        assert response.status_code == 200, response.text
        items += response.json()["items"]
        if not response.json()["next_cursor"]:
            return items
        params["cursor"] = response.json()["next_cursor"]


def requests_of_case(b: Breaches, case_id: str) -> list[dict[str, Any]]:
    return [r for r in listed(b, b.police) if r["case_id"] == case_id]


def timeline(b: Breaches, case_id: str) -> list[str]:
    response = b.api.get(f"/v1/referrals/{case_id}/timeline", headers=b.police)
    assert response.status_code == 200, response.text
    return [entry["kind"] for entry in response.json()["items"]]


def step(b: Breaches, request_id: str, action: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = b.api.post(f"/v1/breach-requests/{request_id}/{action}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def queued_for(b: Breaches, case_id: str, recipient_prefix: str) -> list[CallbackDelivery]:
    """Every message ever queued for a kind of recipient about a case (the worker sends from this table)."""
    with Session(b.engine) as session:
        rows = session.scalars(select(CallbackDelivery).where(CallbackDelivery.case_id == uuid.UUID(case_id)))  # type: ignore[arg-type]
        return [row for row in rows if row.recipient.startswith(recipient_prefix)]


def fact_count(b: Breaches, case_id: str, kind: str) -> int:
    with Session(b.engine) as session:
        return session.scalar(select(func.count()).select_from(CaseFact).where(CaseFact.case_id == uuid.UUID(case_id), CaseFact.kind == kind))


# The scheduler's job function at a time the test chooses, in a process of its own with the services'
# environment (as the CLI's run would be). It says "ready" once imported, then waits for its clock on
# stdin, so that several can begin at the same moment.
CLOCKED_RUN_CHECKS = """
import json, sys
from datetime import datetime
from diversion_common.database import make_engine
from referral_api.breaches.scheduler import run_checks
from referral_api.config import Settings
engine = make_engine(Settings().database_url)
print("ready", flush=True)
run = run_checks(engine, datetime.fromisoformat(sys.stdin.readline().strip()))
print(json.dumps({"due": run.due, "checked": run.checked}))
"""


def clocked_checker(b: Breaches) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLOCKED_RUN_CHECKS], env={**os.environ, **b.system.env},
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_checks(b: Breaches, now: datetime) -> dict[str, int]:
    checker = clocked_checker(b)
    out, err = checker.communicate(f"{now.isoformat()}\n", timeout=60)
    assert checker.returncode == 0, err
    return json.loads(out.splitlines()[-1])


# --- the scenarios -----------------------------------------------------------------------------


def test_an_adult_warned_then_breached_is_submitted_and_decided_by_the_court_with_every_party_told(breaches):
    b = breaches
    district = adult_referral()["encounter"]["district"]
    assert {d["code"]: d["court"] for d in b.api.get("/v1/reference/districts", headers=b.police).json()}[district] == COURT
    [case_id] = accepted(b, adult_referral())

    # A first unacceptable absence: a warning, on the timeline, to the police and to the provider.
    assert miss(b, case_id, "a-1") == "in_programme"
    assert "breach.warning_issued" in timeline(b, case_id)
    assert wait_for(lambda: messages(b.police_system, CASE_NOTICE, case_id=case_id, notice="warning"), timeout=WAIT), "no warning to the police"
    [warning] = messages(b.police_system, CASE_NOTICE, case_id=case_id, notice="warning")
    assert warning["appointment_id"] == "a-1"
    assert PoliceCaseNoticeData.model_validate(warning).links.case.endswith(f"/v1/referrals/{case_id}")
    assert "breach_request" not in warning["links"]  # only a reminder of the officer's review names one
    assert wait_for(lambda: case_id in delivered_to_provider(b, CASE_NOTICE), timeout=WAIT), "no warning to the provider"

    # A second: a breach request, for the officer in the case to review; the court knows nothing yet.
    assert miss(b, case_id, "a-2") == "breach_requested"
    [raised] = requests_of_case(b, case_id)
    request_id = raised["id"]
    assert (raised["status"], raised["rule"], raised["addressee"], raised["court"]) == ("pending_oic_review", "missed_appointments", "court", COURT)
    assert [e["appointment_id"] for e in raised["evidence"]] == ["a-1", "a-2"]
    wait_until_told(b.police_system, request_id, [(BREACH_UPDATED, 1, "pending_oic_review")], BREACH_UPDATED)
    assert request_id not in [r["id"] for r in listed(b, b.court)]
    assert queued_for(b, case_id, "court:") == []

    assert step(b, request_id, "confirm", b.police)["status"] == "submitted"
    wait_until_told(b.court_system, request_id, [(BREACH_SUBMITTED, 2, "submitted")], BREACH_SUBMITTED, BREACH_UPDATED)
    [submitted] = messages(b.court_system, BREACH_SUBMITTED, breach_request_id=request_id)
    assert set(submitted) == {"breach_request_id", "status", "version", "links"}  # thin: nothing about the person

    # The court's liaison staff follow the link with the court's own key, list it, and answer.
    followed = httpx.get(submitted["links"]["breach_request"], headers=b.court)
    assert followed.status_code == 200 and followed.json()["status"] == "submitted"
    assert request_id in [r["id"] for r in listed(b, b.court)]
    assert step(b, request_id, "acknowledge", b.court)["status"] == "acknowledged"
    hearing = step(b, request_id, "hearing", b.court, {"hearing_at": "2027-01-12T10:00:00Z", "court_room": "Court 2"})
    assert hearing["hearing"]["court_room"] == "Court 2"
    decided = step(b, request_id, "outcome", b.court, {"outcome": "community_sanction_imposed"})
    assert decided["outcome"]["outcome"] == "community_sanction_imposed"
    assert case(b, case_id)["status"] == "breach_decided"

    police_steps = ["pending_oic_review", "submitted", "acknowledged", "hearing_scheduled", "outcome_recorded"]
    wait_until_told(b.police_system, request_id, [(BREACH_UPDATED, v, s) for v, s in enumerate(police_steps, 1)], BREACH_UPDATED)
    court_steps = [(BREACH_SUBMITTED, 2, "submitted")] + [(BREACH_UPDATED, v, s) for v, s in enumerate(police_steps[2:], 3)]
    wait_until_told(b.court_system, request_id, court_steps, BREACH_SUBMITTED, BREACH_UPDATED)
    assert not messages(b.yju_system, BREACH_SUBMITTED, breach_request_id=request_id)
    assert queued_for(b, case_id, "yju:") == []
    last = max(messages(b.police_system, BREACH_UPDATED, breach_request_id=request_id), key=lambda m: m["version"])
    assert httpx.get(last["links"]["breach_request"], headers=b.police).json()["status"] == "outcome_recorded"
    assert wait_for(lambda: messages(b.police_system, "case.status_changed", case_id=case_id, status="breach_decided"), timeout=WAIT)


def test_a_young_persons_breach_goes_to_the_yju_which_holds_no_hearing(breaches):
    b = breaches
    [case_id] = accepted(b, youth_referral())
    assert miss(b, case_id, "y-1") == "in_programme"
    assert wait_for(lambda: messages(b.police_system, CASE_NOTICE, case_id=case_id, notice="warning"), timeout=WAIT)
    assert miss(b, case_id, "y-2") == "breach_requested"
    [raised] = requests_of_case(b, case_id)
    request_id = raised["id"]
    assert (raised["addressee"], raised["court"]) == ("yju", None)

    step(b, request_id, "confirm", b.police)
    wait_until_told(b.yju_system, request_id, [(BREACH_SUBMITTED, 2, "submitted")], BREACH_SUBMITTED, BREACH_UPDATED)
    [submitted] = messages(b.yju_system, BREACH_SUBMITTED, breach_request_id=request_id)
    assert httpx.get(submitted["links"]["breach_request"], headers=b.yju).json()["force"] == FORCE
    assert request_id in [r["id"] for r in listed(b, b.yju)]
    assert request_id not in [r["id"] for r in listed(b, b.court)]

    assert step(b, request_id, "acknowledge", b.yju)["status"] == "acknowledged"
    refused = b.api.post(f"/v1/breach-requests/{request_id}/hearing", json={"hearing_at": "2027-01-12T10:00:00Z"}, headers=b.yju)
    assert refused.status_code == 403, refused.text
    assert step(b, request_id, "outcome", b.yju, {"outcome": "youth_caution"})["outcome"]["outcome"] == "youth_caution"
    assert case(b, case_id)["status"] == "breach_decided"

    police_steps = ["pending_oic_review", "submitted", "acknowledged", "outcome_recorded"]
    wait_until_told(b.police_system, request_id, [(BREACH_UPDATED, v, s) for v, s in enumerate(police_steps, 1)], BREACH_UPDATED)
    yju_steps = [(BREACH_SUBMITTED, 2, "submitted"), (BREACH_UPDATED, 3, "acknowledged"), (BREACH_UPDATED, 4, "outcome_recorded")]
    wait_until_told(b.yju_system, request_id, yju_steps, BREACH_SUBMITTED, BREACH_UPDATED)
    assert queued_for(b, case_id, "court:") == []  # the refused hearing told no one anything


def test_a_corrected_absence_withdraws_the_request_the_officer_has_not_yet_reviewed(breaches):
    b = breaches
    [case_id] = accepted(b, adult_referral())
    miss(b, case_id, "a-1")
    assert miss(b, case_id, "a-2") == "breach_requested"
    [raised] = requests_of_case(b, case_id)

    # The provider corrects its report: a later report about the same appointment replaces the earlier one.
    corrected = b.provider.report("appointment.missed", case_id, appointment_id="a-2", reason_category="acceptable")

    assert corrected["case_status"] == "in_programme"
    [withdrawn] = requests_of_case(b, case_id)
    assert (withdrawn["id"], withdrawn["status"], withdrawn["withdrawal"]["reason"]) == (raised["id"], "withdrawn", "basis_corrected")
    kinds = timeline(b, case_id)
    assert kinds.index("breach.raised") < kinds.index("breach.withdrawn")
    wait_until_told(b.police_system, raised["id"], [(BREACH_UPDATED, 1, "pending_oic_review"), (BREACH_UPDATED, 2, "withdrawn")], BREACH_UPDATED)
    assert queued_for(b, case_id, "court:") == []  # never submitted: the court never heard of it
    assert b.api.post(f"/v1/breach-requests/{raised['id']}/confirm", headers=b.police).status_code == 409


def test_the_checks_remind_before_a_deadline_then_raise_a_breach_once_it_has_passed(breaches):
    b = breaches
    [case_id] = accepted(b, adult_referral())  # and never assessed, nor anything else
    completion_due = datetime.fromisoformat(case(b, case_id)["programme"]["completion_due"])

    reminded = run_checks(b, completion_due - timedelta(hours=1))  # inside the reminder window
    assert reminded["checked"] >= 1
    assert fact_count(b, case_id, "deadline.reminder") == 1
    assert case(b, case_id)["status"] == "accepted_by_provider"
    assert requests_of_case(b, case_id) == []
    assert wait_for(lambda: messages(b.police_system, CASE_NOTICE, case_id=case_id, notice="reminder"), timeout=WAIT), "no reminder to the police"
    [reminder] = messages(b.police_system, CASE_NOTICE, case_id=case_id, notice="reminder")
    assert (reminder["deadline"], datetime.fromisoformat(reminder["due_at"])) == ("completion", completion_due)
    assert wait_for(lambda: case_id in delivered_to_provider(b, CASE_NOTICE), timeout=WAIT), "no reminder to the provider"

    # An instant is the same instant in whatever offset the operator writes it.
    run_checks(b, (completion_due + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=-5))))
    assert case(b, case_id)["status"] == "breach_requested"
    [raised] = requests_of_case(b, case_id)
    assert (raised["rule"], raised["status"], raised["deadlines"]["deadline"]) == ("completion_overdue", "pending_oic_review", "completion")
    assert datetime.fromisoformat(raised["deadlines"]["due_at"]) == completion_due
    kinds = timeline(b, case_id)
    assert kinds.index("deadline.reminder") < kinds.index("breach.raised")
    assert (fact_count(b, case_id, "deadline.reminder"), fact_count(b, case_id, "breach.raised")) == (1, 1)
    wait_until_told(b.police_system, raised["id"], [(BREACH_UPDATED, 1, "pending_oic_review")], BREACH_UPDATED)

    # Nothing more is due for it until the officer's review is: then a reminder, not a second breach.
    with Session(b.engine) as session:
        next_check = session.get(Case, uuid.UUID(case_id)).next_deadline_at  # type: ignore[union-attr]
    assert next_check is not None and as_utc(next_check) == datetime.fromisoformat(raised["review_due_at"])


def test_two_checkers_at_once_raise_each_breach_exactly_once(breaches):
    b = breaches
    if b.backend != "postgresql":
        pytest.skip("PostgreSQL only: several processes checking at once (SQLite serialises writers)")
    checkers = [clocked_checker(b) for _ in range(2)]
    try:
        case_ids = accepted(b, *(adult_referral() for _ in range(20)))  # while the checkers start
        now = max(datetime.fromisoformat(case(b, c)["programme"]["completion_due"]) for c in case_ids) + timedelta(minutes=1)
        with Session(b.engine) as session:
            due = session.scalar(select(func.count()).select_from(Case).where(Case.next_deadline_at <= now))  # type: ignore[operator]
        assert due >= len(case_ids)

        for checker in checkers:
            assert checker.stdout.readline().strip() == "ready", checker.stderr.read()
        for checker in checkers:
            checker.stdin.write(f"{now.isoformat()}\n")
            checker.stdin.flush()
        outputs = [checker.communicate(timeout=60) for checker in checkers]
    finally:
        for checker in checkers:
            if checker.poll() is None:
                checker.kill()
                checker.wait()
    for checker, (out, err) in zip(checkers, outputs, strict=True):
        assert checker.returncode == 0, err
        assert "Traceback" not in err, err
    runs = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    assert sum(run["checked"] for run in runs) == due, runs  # each due case checked by exactly one of them

    request_ids = []
    with Session(b.engine) as session:
        for case_id in case_ids:
            rows = list(session.scalars(select(BreachRequestRow).where(BreachRequestRow.case_id == uuid.UUID(case_id))))  # type: ignore[arg-type]
            assert [row.rule for row in rows] == ["completion_overdue"], case_id
            request_ids.append(str(rows[0].id))
    for case_id in case_ids:
        assert fact_count(b, case_id, "breach.raised") == 1, case_id
        queued = [d for d in queued_for(b, case_id, FORCE) if d.event_type == BREACH_UPDATED]
        assert len(queued) == 1, case_id
    for request_id in request_ids:
        wait_until_told(b.police_system, request_id, [(BREACH_UPDATED, 1, "pending_oic_review")], BREACH_UPDATED)
