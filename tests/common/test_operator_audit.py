"""Who did it (issue 23, section 1 item 3): every fact and audit row names its actor. An API
client (client:<id>), the service's scheduler (scheduler), or the operator who ran a command
(operator:<--operator, else the OS user>); every command that changes something writes an
audit row naming the operator and the command, in the change's own transaction."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from diversion_common import actors
from diversion_common.credentials import Role
from diversion_common.database import make_engine, utcnow
from diversion_common.webhooks.secrets import issue_secret
from provider_gateway.audit.tables import AuditCase as GatewayAuditCase
from provider_gateway.audit.tables import AuditRecord as GatewayAuditRecord
from referral_api.audit.tables import AuditCase, AuditRecord
from referral_api.breaches.scheduler import BreachScheduler
from referral_api.case_log import service as case_log
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import FactKind, police_source
from referral_api.callbacks.tables import CallbackSecret
from support.dated_cases import POLICE, accepted_adult_case
from support.processes import REPO, cli


@pytest.fixture
def databases(fresh_database) -> dict[str, str]:
    return {"REFERRAL_API_DATABASE_URL": fresh_database("referral_api"), "PROVIDER_GATEWAY_DATABASE_URL": fresh_database("provider_gateway")}


@pytest.fixture
def engines(databases):
    made = {"referral_api": make_engine(databases["REFERRAL_API_DATABASE_URL"]), "provider_gateway": make_engine(databases["PROVIDER_GATEWAY_DATABASE_URL"])}
    yield made
    for engine in made.values():
        engine.dispose()


def command_rows(engine, record_table, case_table) -> list[dict]:
    """The audit rows of operators' commands, each with the cases it names."""
    with Session(engine) as session:
        rows = session.scalars(select(record_table).where(record_table.method == "CLI").order_by(record_table.id)).all()
        return [
            {
                "actor": row.actor, "route": row.route, "status": row.status, "ids": row.path_ids or {}, "client_id": row.client_id,
                "cases": list(session.scalars(select(case_table.case_id).where(case_table.audit_id == row.id))),
            }
            for row in rows
        ]


def referral_rows(engines) -> list[dict]:
    return command_rows(engines["referral_api"], AuditRecord, AuditCase)


def gateway_rows(engines) -> list[dict]:
    return command_rows(engines["provider_gateway"], GatewayAuditRecord, GatewayAuditCase)


def actors_of(engine, case_id: uuid.UUID) -> list[tuple[str, str | None]]:
    with Session(engine) as session:
        return [(f.kind, f.actor) for f in session.scalars(select(CaseFact).where(CaseFact.case_id == case_id).order_by(CaseFact.seq))]  # type: ignore[arg-type]


def test_the_checks_an_operator_runs_name_the_operator_on_each_fact_and_audit_row(databases, engines):
    overdue = accepted_adult_case(engines["referral_api"], utcnow() - timedelta(weeks=20))

    ran = cli(databases, "--operator", "alice", "breaches", "run-checks")

    assert ran.returncode == 0, ran.stderr
    added = actors_of(engines["referral_api"], overdue)[3:]
    assert [kind for kind, _ in added][-1] == "breach.raised"
    assert {actor for _, actor in added} == {"operator:alice"}
    [row] = referral_rows(engines)
    assert (row["actor"], row["route"], row["status"], row["cases"]) == ("operator:alice", "diversion-link breaches run-checks", 0, [overdue])


def test_without_operator_the_os_user_is_named(databases, engines):
    overdue = accepted_adult_case(engines["referral_api"], utcnow() - timedelta(weeks=20))

    ran = cli({**databases, "LOGNAME": "carol-ops", "USER": "carol-ops"}, "breaches", "run-checks")

    assert ran.returncode == 0, ran.stderr
    assert {actor for _, actor in actors_of(engines["referral_api"], overdue)[3:]} == {"operator:carol-ops"}
    assert [row["actor"] for row in referral_rows(engines)] == ["operator:carol-ops"]


def test_the_services_scheduler_names_itself_and_an_api_clients_facts_name_the_client(engines):
    engine = engines["referral_api"]
    overdue = accepted_adult_case(engine, utcnow() - timedelta(weeks=20))

    assert BreachScheduler(engine, interval_seconds=3600).run_once().checked == 1

    facts = actors_of(engine, overdue)
    assert facts[0] == ("referral.received", actors.client(POLICE.client_id))  # recorded with the police client's id
    assert facts[1][1] == "gateway" and facts[2][1].startswith("provider:")  # reported through the gateway: their source
    assert {actor for _, actor in facts[3:]} == {"scheduler"}
    assert referral_rows(engines) == []  # the service's own job: not an operator's command


def test_client_and_callback_commands_are_audited_in_each_service_they_change(databases, engines):
    created = cli(databases, "--operator", "dave", "clients", "create", "--role", "admin", "--name", "Scheme admin", "--json")
    assert created.returncode == 0, created.stderr
    client_id = json.loads(created.stdout)["client_id"]
    revoked = cli(databases, "--operator", "erin", "clients", "revoke", client_id)
    assert revoked.returncode == 0, revoked.stderr
    again = cli(databases, "--operator", "erin", "clients", "revoke", str(uuid.uuid4()))  # no such client: nothing changed
    assert again.returncode != 0
    callback = cli({**databases, "REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS": "true"}, "--operator", "frank", "callbacks", "set",
                   "--force", "thames-valley", "--url", "https://police.example/hooks")
    assert callback.returncode == 0, callback.stderr

    for rows in (referral_rows(engines), gateway_rows(engines)):
        assert [(r["actor"], r["route"]) for r in rows[:2]] == [
            ("operator:dave", "diversion-link clients create"), ("operator:erin", "diversion-link clients revoke"),
        ]
        assert rows[0]["ids"]["client_id"] == client_id and rows[0]["ids"]["role"] == "admin" and rows[1]["ids"] == {"client_id": client_id}
        assert all(r["client_id"] is None for r in rows)  # no API client did it
    assert [(r["actor"], r["route"], r["ids"]) for r in referral_rows(engines)[2:]] == [
        ("operator:frank", "diversion-link callbacks set", {"recipient": "thames-valley"}),
    ]
    assert len(gateway_rows(engines)) == 2


def test_retention_and_key_rotation_are_audited_with_the_cases_they_erase(databases, engines):
    engine = engines["referral_api"]
    ended = accepted_adult_case(engine, utcnow() - timedelta(days=500))
    with Session(engine) as session:
        case = session.get(Case, ended)
        case_log.append(session, case, kind=FactKind.withdrawn, occurred_at=utcnow() - timedelta(days=490), source=police_source(POLICE.client_id),
                        source_id=str(uuid.uuid4()), data={"reason": "other", "note": None}, actor=POLICE.client_id)
        session.flush()
        session.execute(text("UPDATE referral_cases SET updated_at = :at WHERE id = :id"), {"at": utcnow() - timedelta(days=400), "id": case.id.hex if engine.dialect.name == "sqlite" else case.id})
        issue_secret(session, CallbackSecret, "thames-valley")
        session.commit()

    erased = cli(databases, "--operator", "grace", "retention", "run")
    rotated = cli(databases, "--operator", "heidi", "secrets", "rotate-key")

    assert erased.returncode == 0 and rotated.returncode == 0, erased.stderr + rotated.stderr
    assert [(r["actor"], r["route"], r["cases"]) for r in referral_rows(engines)] == [
        ("operator:grace", "diversion-link retention run", [ended]),
        ("operator:heidi", "diversion-link secrets rotate-key", []),
    ]
    assert gateway_rows(engines) == []  # nothing of the gateway's was due, nor any secret stored there: nothing changed


def test_the_demo_seed_is_audited_as_the_operators(databases, engines, tmp_path):
    seeded = subprocess.run(
        [sys.executable, "-m", "diversion_cli.main", "--operator", "ivan", "demo-seed", "--env-file", str(tmp_path / "demo.env")],
        env={**os.environ, **databases}, cwd=REPO, capture_output=True, text=True, timeout=120,
    )

    assert seeded.returncode == 0, seeded.stderr
    gateway = gateway_rows(engines)
    assert {(r["actor"], r["route"]) for r in gateway} == {("operator:ivan", "diversion-link demo-seed")}
    assert sorted(r["ids"].get("provider", "") for r in gateway if "provider" in r["ids"]) == ["Demo Adult Drug Service", "Demo Young People's Drug Service"]
    referral = referral_rows(engines)
    assert referral and {(r["actor"], r["route"]) for r in referral} == {("operator:ivan", "diversion-link demo-seed")}
