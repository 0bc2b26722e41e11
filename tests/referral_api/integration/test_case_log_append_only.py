"""The case log and the read log are append-only in the database itself (issue 23, section 1
item 6): UPDATE and DELETE are refused whatever asks, except retention's erasure of free text,
which goes through referral_api/case_log/erasure.py and nowhere else. On SQLite the erased text
does not linger in the database's files, its -wal included."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from diversion_common.database import make_engine, utcnow
from diversion_common.erasure import checkpoint_after_erasure
from referral_api.case_log import service as case_log
from referral_api.case_log.erasure import erasure_permitted
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case, CaseAccess
from referral_api.lifecycle.facts import FactKind, police_source
from referral_api.privacy.retention import run_retention
from support.dated_cases import POLICE, accepted_adult_case
from support.referrals import adult_referral

# Made up, and nowhere else in a fresh database: if these bytes are in a file, the note is.
REMOVED_NOTE = "Synthetic-erasure-marker-ZQXJ-7741 moved in with a cousin"

REMOVED_EMAIL = adult_referral()["subject"]["email"]  # synthetic; in the referral erased with the case

REFUSED = [
    "UPDATE referral_case_facts SET kind = 'case.withdrawn'",
    "UPDATE referral_case_facts SET data = '{}'",
    "DELETE FROM referral_case_facts",
    "UPDATE referral_case_access SET action = 'read'",
    "DELETE FROM referral_case_access",
]


@pytest.fixture
def database(fresh_database):
    url = fresh_database("referral_api")
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def ended_case_with_a_note(engine) -> uuid.UUID:
    """A case withdrawn 400 days ago with a free-text note, and read once."""
    case_id = accepted_adult_case(engine, utcnow() - timedelta(days=420))
    with Session(engine) as session:
        case = session.get(Case, case_id)
        case_log.append(
            session, case, kind=FactKind.withdrawn, occurred_at=utcnow() - timedelta(days=400), source=police_source(POLICE.client_id),
            source_id=str(uuid.uuid4()), data={"reason": "other", "note": REMOVED_NOTE}, actor=POLICE.client_id,
        )
        case.updated_at = utcnow() - timedelta(days=400)
        session.add(CaseAccess(case_id=case_id, client_id=POLICE.client_id, action="read"))
        session.commit()
    return case_id


def statement_refused(engine, statement: str) -> bool:
    with Session(engine) as session:
        try:
            session.execute(text(statement))
            session.commit()
        except DBAPIError as error:
            assert "append-only" in str(error)
            return True
    return False


def notes(engine, case_id: uuid.UUID) -> list:
    with Session(engine) as session:
        return [f.data.get("note") for f in session.scalars(select(CaseFact).where(CaseFact.case_id == case_id)) if "note" in f.data]


def test_plain_update_and_delete_are_refused_on_both_logs(database):
    _, engine = database
    case_id = ended_case_with_a_note(engine)

    for statement in REFUSED:
        assert statement_refused(engine, statement), statement
    if engine.dialect.name == "postgresql":
        for table in ("referral_case_facts", "referral_case_access"):
            assert statement_refused(engine, f"TRUNCATE {table} CASCADE"), table
    assert notes(engine, case_id) == [REMOVED_NOTE]


def test_even_under_the_erasure_permit_only_a_facts_data_may_change(database):
    _, engine = database
    case_id = ended_case_with_a_note(engine)

    for statement in REFUSED[:1] + REFUSED[2:]:
        with Session(engine) as session:
            with pytest.raises(DBAPIError, match="append-only"), erasure_permitted(session):
                session.execute(text(statement))
    assert notes(engine, case_id) == [REMOVED_NOTE]


def test_retention_erases_the_note_through_the_permit_which_ends_with_it(database):
    url, engine = database
    case_id = ended_case_with_a_note(engine)
    service = make_engine(url)  # a running service's connection, open throughout: SQLite never gets to close the WAL by itself
    with service.connect() as connection:
        connection.execute(text("SELECT 1")).all()
        connection.commit()
        files = [Path(url.removeprefix("sqlite:///") + suffix) for suffix in ("", "-wal")] if engine.dialect.name == "sqlite" else []
        if files:  # the note in the database file itself, as SQLite's own checkpoints leave a long-lived one
            checkpoint_after_erasure(engine)
            assert REMOVED_NOTE.encode() in files[0].read_bytes() and REMOVED_EMAIL.encode() in files[0].read_bytes()

        run = run_retention(engine, retention_days=365, now=utcnow())

        assert run.case_ids == [case_id]
        assert notes(engine, case_id) == [None]
        for statement in REFUSED:  # the permit ended with the erasure's transaction
            assert statement_refused(engine, statement), statement
        for path in files:
            for removed in (REMOVED_NOTE, REMOVED_EMAIL):  # the fact's note, and the referral's contact details
                assert not path.exists() or removed.encode() not in path.read_bytes(), (path.name, removed)
    service.dispose()
