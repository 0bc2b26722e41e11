"""The operator's commands of issue 24 ("Run"), run as an operator runs them (a real process on real
databases): `providers ...`, `deliveries ...`, `retention purge`, `subject-access export`, `audit search`,
`openapi export`. Each prints JSON with --json, fails with one line and a non-zero exit, and each
change leaves an audit row naming the operator."""

from __future__ import annotations

import json
import os
import stat
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

from diversion_common.database import make_engine, utcnow
from diversion_common.webhooks import service as webhooks
from diversion_common.webhooks.addressing import url_sha256
from provider_gateway.audit.tables import AuditCase as GatewayAuditCase
from provider_gateway.audit.tables import AuditRecord as GatewayAuditRecord
from provider_gateway.deliveries.tables import Delivery
from provider_gateway.providers.tables import Provider
from referral_api.audit.tables import AuditCase, AuditRecord
from referral_api.callbacks.tables import CallbackDelivery
from referral_api.cases.tables import Case, CaseAccess
from support.dated_cases import accepted_adult_case
from support.gateway_flows import delivery_for, register_provider, route_a_case
from support.processes import REPO, cli, one_line_error

WEBHOOK = "http://127.0.0.1:9/unused"



@pytest.fixture
def databases(gateway_db, fresh_database) -> dict[str, str]:
    return {
        "REFERRAL_API_DATABASE_URL": fresh_database("referral_api"), "PROVIDER_GATEWAY_DATABASE_URL": gateway_db,
        "PROVIDER_GATEWAY_ALLOW_LOOPBACK_WEBHOOKS": "true",
    }


@pytest.fixture
def referral_engine(databases):
    engine = make_engine(databases["REFERRAL_API_DATABASE_URL"])
    yield engine
    engine.dispose()


def operator_rows(engine, record_table, case_table) -> list[tuple[str, str, dict, list[uuid.UUID]]]:
    with Session(engine) as session:
        rows = session.scalars(select(record_table).where(record_table.method == "CLI").order_by(record_table.id)).all()
        return [
            (row.actor, row.route.removeprefix("diversion-link "), row.path_ids or {},
             list(session.scalars(select(case_table.case_id).where(case_table.audit_id == row.id))))
            for row in rows
        ]


def gateway_rows(engine):
    return operator_rows(engine, GatewayAuditRecord, GatewayAuditCase)


def run_json(databases, *args):
    ran = cli(databases, "--operator", "olive", *args, "--json")
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout)


# --- providers -----------------------------------------------------------------------------


def test_providers_are_created_listed_changed_disabled_and_given_new_secrets_each_audited(databases, gateway_engine):
    created = run_json(databases, "providers", "create", "--name", "Reading Drug Service", "--pathway", "adult_deferred_summons",
                       "--district", "reading", "--district", "wokingham", "--contact-email", "intake@reading.example",
                       "--delivery-mode", "webhook", "--webhook-url", WEBHOOK)
    provider_id = created["id"]
    assert created["signing_secret"].startswith("whsec_") and created["districts"] == ["reading", "wokingham"]
    assert [p["id"] for p in run_json(databases, "providers", "list")] == [provider_id]

    changed = run_json(databases, "providers", "update", provider_id, "--district", "oxford", "--out-of-hours")
    assert changed["districts"] == ["oxford"] and changed["out_of_hours"] is True
    rotated = run_json(databases, "providers", "rotate-secret", provider_id, "--overlap-hours", "1")
    assert rotated["signing_secret"].startswith("whsec_") and rotated["signing_secret"] != created["signing_secret"]
    assert run_json(databases, "providers", "disable", provider_id)["active"] is False

    with Session(gateway_engine) as session:
        assert session.get(Provider, uuid.UUID(provider_id)).active is False
    assert [(actor, route, ids) for actor, route, ids, _ in gateway_rows(gateway_engine)] == [
        ("operator:olive", f"providers {command}", {"provider_id": provider_id})
        for command in ("create", "update", "rotate-secret", "disable")
    ]


@pytest.mark.parametrize("args, said", [
    (["providers", "create", "--name", "X", "--pathway", "adults", "--district", "reading", "--contact-email", "a@x.example"], "--pathway"),
    (["providers", "create", "--name", "X", "--pathway", "adult_deferred_summons", "--district", "reading", "--contact-email", "a@x.example",
      "--delivery-mode", "webhook"], "--webhook-url is required in webhook mode"),
    (["providers", "update", str(uuid.UUID(int=7)), "--name", "Y"], "no such provider"),
    (["providers", "update", str(uuid.UUID(int=7))], "nothing to change"),
    (["providers", "disable", str(uuid.UUID(int=7))], "no such provider"),
    (["providers", "rotate-secret", str(uuid.UUID(int=7)), "--overlap-hours", "9999"], "--overlap-hours"),
])
def test_a_refused_provider_command_is_one_line_and_changes_nothing(databases, gateway_engine, args, said):
    assert said in one_line_error(cli(databases, *args))
    with Session(gateway_engine) as session:
        assert session.scalars(select(Provider)).all() == []
    assert gateway_rows(gateway_engine) == []


def test_a_name_taken_is_refused_without_an_audit_row(databases, gateway_engine):
    args = ["providers", "create", "--name", "Twice", "--pathway", "adult_deferred_summons", "--district", "reading", "--contact-email", "a@x.example"]
    assert cli(databases, *args).returncode == 0
    assert "name is already taken" in one_line_error(cli(databases, *args))
    assert [route for _, route, _, _ in gateway_rows(gateway_engine)] == ["providers create"]


# --- deliveries ------------------------------------------------------------------------------


def dead_gateway_delivery(gateway, admin, referral_service, gateway_engine) -> tuple[str, str]:
    register_provider(gateway, admin, webhook_url=WEBHOOK)
    case_id = route_a_case(gateway, referral_service)
    delivery_id = delivery_for(gateway_engine, case_id).id
    with Session(gateway_engine) as session:  # as the worker leaves it when the schedule is spent
        row = session.get(Delivery, delivery_id)
        row.status, row.attempts, row.last_error, row.sent_to_sha256 = "dead", 24, "timeout", url_sha256(WEBHOOK)
        session.commit()
    return delivery_id, case_id


def dead_callback_delivery(engine) -> str:
    """A notification to a force whose callback has since gone: redelivery is refused."""
    with Session(engine) as session:
        delivery = webhooks.add_delivery(session, CallbackDelivery, event_type="case.status_changed", payload={"type": "x"},
                                         case_id=uuid.uuid4(), recipient="thames-valley")
        delivery.status = "dead"
        session.commit()
        return delivery.id


def test_deliveries_of_both_services_are_listed_and_the_dead_redelivered_each_audited(databases, gateway, admin, referral_service, gateway_engine, referral_engine):
    gateway_delivery, case_id = dead_gateway_delivery(gateway, admin, referral_service, gateway_engine)
    callback_delivery = dead_callback_delivery(referral_engine)

    listed = run_json(databases, "deliveries", "list", "--status", "dead")
    assert {(d["service"], d["id"]) for d in listed} == {("provider_gateway", gateway_delivery), ("referral_api", callback_delivery)}
    only_gateway = run_json(databases, "deliveries", "list", "--service", "provider_gateway")
    assert [d["id"] for d in only_gateway] == [gateway_delivery]

    ran = cli(databases, "--operator", "olive", "deliveries", "redeliver", "--dead", "--json")
    assert ran.returncode == 1  # one was refused
    results = {r["id"]: r for r in json.loads(ran.stdout)}
    assert results[gateway_delivery]["redelivered"] is True and results[gateway_delivery]["status"] == "pending"
    assert results[callback_delivery]["redelivered"] is False and "not active" in results[callback_delivery]["refused"]

    with Session(gateway_engine) as session:
        assert session.get(Delivery, gateway_delivery).status == "pending"
    assert gateway_rows(gateway_engine)[-1] == ("operator:olive", "deliveries redeliver", {"delivery_id": gateway_delivery}, [uuid.UUID(case_id)])
    assert operator_rows(referral_engine, AuditRecord, AuditCase) == []  # refused: nothing changed, no row


def test_a_refused_redelivery_of_one_is_one_line(databases, gateway, admin, referral_service, gateway_engine):
    gateway_delivery, _ = dead_gateway_delivery(gateway, admin, referral_service, gateway_engine)
    assert cli(databases, "deliveries", "redeliver", gateway_delivery).returncode == 0
    assert "cannot be redelivered" in one_line_error(cli(databases, "deliveries", "redeliver", gateway_delivery))  # pending now
    assert "no such delivery" in one_line_error(cli(databases, "deliveries", "redeliver", "msg_nothing"))
    assert "--status must be one of" in one_line_error(cli(databases, "deliveries", "list", "--status", "lost"))
    assert "not both" in one_line_error(cli(databases, "deliveries", "redeliver", gateway_delivery, "--dead"))


# --- retention, subject access, the audit log --------------------------------------------------


def ended_long_ago(engine) -> uuid.UUID:
    case_id = accepted_adult_case(engine, utcnow() - timedelta(days=500))
    with Session(engine) as session:
        key = case_id.hex if engine.dialect.name == "sqlite" else case_id
        session.execute(text("UPDATE referral_cases SET status = 'completed', updated_at = :at WHERE id = :id"),
                        {"at": utcnow() - timedelta(days=400), "id": key})
        session.commit()
    return case_id


def test_retention_purge_counts_on_a_dry_run_then_erases_with_an_audit_row(databases, referral_engine):
    case_id = ended_long_ago(referral_engine)

    dry = run_json(databases, "retention", "purge", "--dry-run")
    assert [(r["service"], r["cases"], r["dry_run"]) for r in dry] == [("referral_api", 1, True), ("provider_gateway", 0, True)]
    with Session(referral_engine) as session:
        assert session.get(Case, case_id).referral is not None
    assert operator_rows(referral_engine, AuditRecord, AuditCase) == []

    done = run_json(databases, "retention", "purge")
    assert [r["cases"] for r in done] == [1, 0]
    with Session(referral_engine) as session:
        assert session.get(Case, case_id).referral is None
    assert operator_rows(referral_engine, AuditRecord, AuditCase) == [("operator:olive", "retention purge", {}, [case_id])]


def test_the_daily_retention_job_erases_what_is_due(referral_engine):
    from referral_api.config import Settings
    from referral_api.privacy.retention import daily_retention

    case_id = ended_long_ago(referral_engine)
    job = daily_retention(referral_engine, Settings(retention_hour_utc=4))
    job.start()
    try:
        assert (job.next_run_at().hour, job.next_run_at().minute) == (4, 0)
    finally:
        job.stop()
    assert job.run_once().case_ids == [case_id]
    with Session(referral_engine) as session:
        assert session.get(Case, case_id).referral is None


def test_a_subject_access_export_is_a_private_file_audited_in_both_services(databases, referral_engine, gateway_engine, tmp_path):
    case_id = accepted_adult_case(referral_engine, utcnow() - timedelta(days=3))
    output = tmp_path / "sar" / "export.json"

    summary = run_json(databases, "subject-access", "export", str(case_id), "--output", str(output))

    assert summary == {"output": str(output), "cases": [str(case_id)], "gateway_cases": 0}
    assert stat.S_IMODE(os.stat(output).st_mode) == 0o600
    document = json.loads(output.read_text())
    [held] = document["referral_api"]["cases"]
    assert held["id"] == str(case_id) and held["referral"]["subject"]["family_name"]
    assert document["provider_gateway"]["not_held"] == [str(case_id)]
    assert operator_rows(referral_engine, AuditRecord, AuditCase) == [("operator:olive", "subject-access export", {"case_id": str(case_id)}, [case_id])]
    assert gateway_rows(gateway_engine) == [("operator:olive", "subject-access export", {"case_id": str(case_id)}, [])]
    with Session(referral_engine) as session:  # an operator is no API client: the audit row is the record of the read
        assert session.scalars(select(CaseAccess).where(CaseAccess.action == "subject-access")).all() == []

    assert "exists" in one_line_error(cli(databases, "subject-access", "export", str(case_id), "--output", str(output)))
    assert "no such case" in one_line_error(cli(databases, "subject-access", "export", str(uuid.uuid4()), "--output", str(tmp_path / "n.json")))
    assert not (tmp_path / "n.json").exists()


def test_audit_search_filters_as_the_api_does(databases, gateway_engine):
    for name in ("One", "Two"):
        assert cli(databases, "--operator", f"op-{name.lower()}", "providers", "create", "--name", name, "--pathway", "adult_deferred_summons",
                   "--district", "reading", "--contact-email", "a@x.example").returncode == 0

    found = run_json(databases, "audit", "search", "--actor", "operator:op-two")
    assert [(r["service"], r["route"], r["status"], r["method"]) for r in found] == [("provider_gateway", "diversion-link providers create", 0, "CLI")]
    assert len(run_json(databases, "audit", "search", "--service", "provider_gateway", "--status", "0")) == 2
    assert run_json(databases, "audit", "search", "--since", "2999-01-01T00:00:00+00:00") == []
    assert "UTC offset" in one_line_error(cli(databases, "audit", "search", "--since", "2026-01-01T00:00:00"))


def test_openapi_export_writes_what_the_services_serve(tmp_path):
    ran = cli({}, "openapi", "export", "--output", str(tmp_path), "--json")
    assert ran.returncode == 0, ran.stderr
    assert sorted(json.loads(ran.stdout)["written"]) == sorted(str(tmp_path / f"{s}.json") for s in ("provider_gateway", "referral_api"))
    for service in ("referral_api", "provider_gateway"):
        assert (tmp_path / f"{service}.json").read_text() == (REPO / "openapi" / f"{service}.json").read_text()
