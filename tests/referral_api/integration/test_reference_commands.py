"""`diversion-link reference ...`, run as an operator runs it (a real process on a real database):
each change is made by referral_api's own rules, printed as JSON with --json, refused in one line,
and audited, naming the operator; the district it adds is the referral API's next accepted one."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlmodel import Session

from diversion_common.contracts import REFERENCE_AGGREGATE
from diversion_common.database import make_engine
from referral_api.audit.tables import AuditRecord
from referral_api.messaging.tables import OutboxMessage
from referral_api.reference.service import court_of_district, force_of_district_in_use
from support.processes import cli, one_line_error


@pytest.fixture
def database(fresh_database) -> dict[str, str]:
    return {"REFERRAL_API_DATABASE_URL": fresh_database("referral_api")}


@pytest.fixture
def engine(database):
    engine = make_engine(database["REFERRAL_API_DATABASE_URL"])
    yield engine
    engine.dispose()


def run_json(database, *args):
    ran = cli(database, "--operator", "olive", "reference", *args, "--json")
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


def operator_rows(engine) -> list[tuple[str, str, dict]]:
    with Session(engine) as session:
        rows = session.scalars(select(AuditRecord).where(AuditRecord.method == "CLI").order_by(AuditRecord.id)).all()
        return [(row.actor, row.route.removeprefix("diversion-link "), row.path_ids or {}) for row in rows]


def test_districts_and_courts_are_added_changed_and_retired_each_audited(database, engine):
    listed = run_json(database, "list")
    assert len(listed) == 29 and {"code": "hart", "name": "Hart", "force": "hampshire", "population": 96_293,
                                   "court": "basingstoke-magistrates", "retired": False} in listed

    assert run_json(database, "add-court", "newbury-magistrates", "--name", "Newbury Magistrates' Court")["retired"] is False
    added = run_json(database, "add-district", "newbury", "--name", "Newbury", "--force", "thames-valley",
                     "--court", "newbury-magistrates", "--population", "70000")
    assert added == {"code": "newbury", "name": "Newbury", "force": "thames-valley", "population": 70_000,
                     "court": "newbury-magistrates", "retired": False}
    moved = run_json(database, "set-district", "wokingham", "--court", "slough-magistrates")
    assert moved["court"] == "slough-magistrates" and moved["population"] == 167_979
    assert run_json(database, "retire", "districts", "hart")["retired"] is True

    with Session(engine) as session:
        assert force_of_district_in_use(session, "newbury") == "thames-valley"
        assert court_of_district(session, "wokingham") == "slough-magistrates"
        assert force_of_district_in_use(session, "hart") is None
        told = session.scalars(select(OutboxMessage.payload).where(OutboxMessage.aggregate_id == REFERENCE_AGGREGATE)).all()
    assert [(m["code"], m["retired"]) for m in told] == [("newbury", False), ("wokingham", False), ("hart", True)]
    assert operator_rows(engine) == [
        ("operator:olive", "reference add-court", {"code": "newbury-magistrates"}),
        ("operator:olive", "reference add-district", {"code": "newbury"}),
        ("operator:olive", "reference set-district", {"code": "wokingham"}),
        ("operator:olive", "reference retire districts", {"code": "hart"}),
    ]
    assert {c["code"] for c in run_json(database, "list", "courts")} >= {"newbury-magistrates", "reading-magistrates"}


def test_a_refused_change_is_one_line_and_leaves_no_audit_row(database, engine):
    assert "force is not a force in use" in one_line_error(cli(
        database, "--operator", "olive", "reference", "add-district", "newbury", "--name", "Newbury", "--force", "atlantis",
        "--court", "reading-magistrates", "--population", "1"))
    assert "districts in use name this court" in one_line_error(cli(database, "--operator", "olive", "reference", "retire", "courts", "reading-magistrates"))
    assert "CODE" in one_line_error(cli(database, "--operator", "olive", "reference", "add-force", "Not A Code", "--name", "X"))
    assert "nothing to change" in one_line_error(cli(database, "--operator", "olive", "reference", "set-district", "reading"))
    assert operator_rows(engine) == []


def test_a_client_belongs_only_to_a_force_or_court_in_use(database, engine):
    police = ["--operator", "olive", "clients", "create", "--role", "police", "--name", "Atlantis Police system", "--force", "atlantis", "--json"]
    assert "--force must be a force in use" in one_line_error(cli(database, *police))
    assert "--court must be a court in use" in one_line_error(cli(
        database, "--operator", "olive", "clients", "create", "--role", "court", "--name", "x", "--court", "atlantis-magistrates"))

    run_json(database, "add-force", "atlantis", "--name", "Atlantis Police")
    created = cli(database, *police)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["role"] == "police"
