"""`diversion-link backup` and `restore` (issue 24, "Run"), run as an operator runs them: a backup of
live databases (pg_dump -Fc on PostgreSQL, SQLite's online backup API) restored into new, empty
databases, where the case reads back as it was; a restore never writes over data."""

from __future__ import annotations

import json
import os
import stat
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from diversion_common.database import make_engine, utcnow
from referral_api.audit.tables import AuditRecord
from referral_api.cases.tables import Case
from support.dated_cases import accepted_adult_case
from support.processes import cli, one_line_error

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture
def empty_database(backend, tmp_path) -> Iterator[Callable[[str], str]]:
    """New databases with nothing in them (no migration), made here and dropped after."""
    made: list[str] = []
    admin = None
    if backend == "postgresql":
        admin = create_engine(make_url(POSTGRES_URL).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT", poolclass=NullPool)

    def make(service: str) -> str:
        if admin is None:
            return f"sqlite:///{tmp_path / 'restored' / f'{service}.db'}"
        name = f"restore_{service}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        return make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)

    yield make
    if admin is not None:
        with admin.connect() as connection:
            for name in made:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def live(fresh_database) -> dict[str, str]:
    return {"REFERRAL_API_DATABASE_URL": fresh_database("referral_api"), "PROVIDER_GATEWAY_DATABASE_URL": fresh_database("provider_gateway")}



def test_a_backup_restored_into_empty_databases_reads_the_case_back(live, empty_database, tmp_path):
    engine = make_engine(live["REFERRAL_API_DATABASE_URL"])
    case_id = accepted_adult_case(engine, utcnow() - timedelta(days=2))
    with Session(engine) as session:
        before = session.get(Case, case_id).model_dump()
    engine.dispose()
    folder = tmp_path / "backup"

    backed_up = cli(live, "backup", "--output", str(folder), "--json")

    assert backed_up.returncode == 0, backed_up.stderr
    entries = json.loads(backed_up.stdout)["databases"]
    assert sorted(s for e in entries for s in e["services"]) == ["provider_gateway", "referral_api"]
    assert all(e["revisions"][s] for e in entries for s in e["services"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}  # personal data: the owner's only

    targets = {"REFERRAL_API_DATABASE_URL": empty_database("referral_api"), "PROVIDER_GATEWAY_DATABASE_URL": empty_database("provider_gateway")}
    restored = cli(targets, "--operator", "rita", "restore", str(folder), "--json")

    assert restored.returncode == 0, restored.stderr
    assert sorted(s for e in json.loads(restored.stdout)["restored"] for s in e["services"]) == ["provider_gateway", "referral_api"]
    engine = make_engine(targets["REFERRAL_API_DATABASE_URL"])
    try:
        with Session(engine) as session:
            assert session.get(Case, case_id).model_dump() == before
            [row] = session.scalars(select(AuditRecord).where(AuditRecord.method == "CLI")).all()
            assert (row.actor, row.route) == ("operator:rita", "diversion-link restore")
    finally:
        engine.dispose()

    # Never over data: the databases now hold the case.
    assert "not empty" in one_line_error(cli(targets, "restore", str(folder)))


def test_backup_and_restore_refuse_with_one_line(live, tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "other").write_text("someone's")
    assert "is not an empty folder" in one_line_error(cli(live, "backup", "--output", str(folder)))
    assert "is not a backup" in one_line_error(cli(live, "restore", str(tmp_path)))
    (folder / "manifest.json").write_text("{")
    assert "is not JSON" in one_line_error(cli(live, "restore", str(folder)))
