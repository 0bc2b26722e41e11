"""`diversion-link breaches run-checks`, run as an operator runs it: on the real clock only; a
chosen time only for a --dry-run, which prints what would be recorded and records nothing
(issue 23, section 1 item 2)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.database import as_utc, make_engine, utcnow
from referral_api.audit.tables import AuditRecord
from referral_api.breaches.tables import BreachRequestRow
from referral_api.case_log import service as case_log
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case
from referral_api.messaging.tables import OutboxMessage
from referral_api.callbacks.tables import CallbackDelivery
from support.dated_cases import accepted_adult_case
from support.processes import cli

WRITTEN_BY_A_CHECK = (CaseFact, OutboxMessage, CallbackDelivery, AuditRecord, BreachRequestRow)


@pytest.fixture
def database(fresh_database):
    url = fresh_database("referral_api")
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def written(engine) -> dict[str, int]:
    with Session(engine) as session:
        return {table.__tablename__: session.scalar(select(func.count()).select_from(table)) for table in WRITTEN_BY_A_CHECK}


def facts(engine, case_id: uuid.UUID) -> list[CaseFact]:
    with Session(engine) as session:
        return list(session.scalars(select(CaseFact).where(CaseFact.case_id == case_id).order_by(CaseFact.seq)))  # type: ignore[arg-type]


def next_check(engine, case_id: uuid.UUID):
    with Session(engine) as session:
        return session.get(Case, case_id).next_deadline_at  # type: ignore[union-attr]


def completion_due(engine, case_id: uuid.UUID):
    with Session(engine) as session:
        return as_utc(case_log.current_state(session, case_id).programme.completion_due)


def test_a_chosen_time_without_dry_run_is_refused_in_one_line_and_records_nothing(database):
    url, engine = database
    case_id = accepted_adult_case(engine, utcnow())
    before = written(engine)
    future = completion_due(engine, case_id) + timedelta(minutes=1)

    ran = cli({"REFERRAL_API_DATABASE_URL": url}, "breaches", "run-checks", "--now", future.isoformat())

    assert ran.returncode == 2
    assert ran.stderr.strip().count("\n") == 0 and "--dry-run" in ran.stderr and "Traceback" not in ran.stderr
    assert written(engine) == before


def test_a_dry_run_at_a_future_time_prints_each_cases_steps_and_records_nothing(database):
    url, engine = database
    due_case, quiet_case = accepted_adult_case(engine, utcnow()), accepted_adult_case(engine, utcnow() + timedelta(days=30))
    due = completion_due(engine, due_case)
    before, checks_before = written(engine), next_check(engine, due_case)

    previews = {}
    for label, at in (("reminder", due - timedelta(hours=1)), ("breach", due + timedelta(minutes=1))):
        ran = cli({"REFERRAL_API_DATABASE_URL": url}, "breaches", "run-checks", "--dry-run", "--now", at.isoformat(), "--json")
        assert ran.returncode == 0, ran.stderr
        previews[label] = json.loads(ran.stdout)

    reminder = {c["case_id"]: c["would_record"] for c in previews["reminder"]["cases"]}
    assert [(s["kind"], s["deadline"]) for s in reminder[str(due_case)]] == [("deadline.reminder", "completion")]
    breach = {c["case_id"]: c["would_record"] for c in previews["breach"]["cases"]}
    assert [s["kind"] for s in breach[str(due_case)]][-1] == "breach.raised"
    assert breach[str(due_case)][-1]["rule"] == "completion_overdue"
    assert str(quiet_case) not in breach  # its deadline is a month later
    assert previews["breach"]["dry_run"] is True
    assert written(engine) == before  # no fact, no message, no notification, no audit row, no request
    assert next_check(engine, due_case) == checks_before

    human = cli({"REFERRAL_API_DATABASE_URL": url}, "breaches", "run-checks", "--dry-run", "--now", (due + timedelta(minutes=1)).isoformat())
    assert human.returncode == 0, human.stderr
    assert "nothing recorded" in human.stdout and f"{due_case}: " in human.stdout and "breach.raised" in human.stdout
    assert written(engine) == before


def test_the_real_run_acts_on_the_clock_and_dates_nothing_in_the_future(database):
    url, engine = database
    overdue = accepted_adult_case(engine, utcnow() - timedelta(weeks=20))  # its deadline passed unchecked
    not_yet = accepted_adult_case(engine, utcnow())
    started = utcnow()

    ran = cli({"REFERRAL_API_DATABASE_URL": url}, "breaches", "run-checks", "--json")

    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == {"due": 1, "checked": 1}
    [raised] = [f for f in facts(engine, overdue) if f.kind == "breach.raised"]
    assert started <= as_utc(raised.occurred_at) <= utcnow()
    assert [f.kind for f in facts(engine, not_yet)] == ["referral.received", "case.routed", "referral.accepted"]
