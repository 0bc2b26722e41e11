"""What a new operator trips on at the command line (issue 23, section 5): an error is one line
on stderr and a non-zero exit, never a traceback; `--version`; `--help` loads no service code;
a provider's key only for a provider that exists."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.providers.schemas import DeliveryMode, ProviderCreate
from provider_gateway.providers.service import create_provider
from diversion_common.contracts import Pathway
from support.processes import REPO, cli, one_line_error



@pytest.fixture
def databases(fresh_database) -> dict[str, str]:
    return {"REFERRAL_API_DATABASE_URL": fresh_database("referral_api"), "PROVIDER_GATEWAY_DATABASE_URL": fresh_database("provider_gateway")}


def test_version_is_printed():
    ran = cli({}, "--version")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "diversion-link 0.1.0"


# Which heavy modules a command's --help loaded: the services, the web and database stacks.
HEAVY = ("fastapi", "sqlalchemy", "sqlmodel", "alembic", "referral_api.main", "provider_gateway.main", "httpx")
IMPORTS_OF_HELP = """
import json, sys
sys.argv = ["diversion-link", *sys.argv[1:]]
import diversion_cli.main as cli
try:
    cli.main()
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {h.split(".")[0] for h in %r} and m in %r)))
""" % (HEAVY, HEAVY)


@pytest.mark.parametrize("command", [
    [], ["clients", "create"], ["breaches", "run-checks"], ["retention", "run"], ["retention", "purge"], ["callbacks", "set"],
    ["providers", "create"], ["providers", "update"], ["providers", "disable"], ["providers", "rotate-secret"], ["providers", "list"],
    ["deliveries", "list"], ["deliveries", "redeliver"], ["subject-access", "export"], ["audit", "search"], ["openapi", "export"],
    ["backup"], ["restore"],
])
def test_help_loads_no_service_web_or_database_code(command):
    ran = subprocess.run([sys.executable, "-c", IMPORTS_OF_HELP, *command, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "Usage" in ran.stdout.split("\n[")[0]
    assert json.loads(ran.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("args", [
    ["clients", "revoke", "not-a-client-id"],
    ["clients", "create", "--role", "nobody", "--name", "x"],
    ["clients", "list", "--no-such-option"],
    ["no-such-command"],
])
def test_bad_arguments_are_one_line(args, databases):
    assert "error: " in one_line_error(cli(databases, *args))


def test_an_unknown_id_is_one_line(databases):
    line = one_line_error(cli(databases, "clients", "revoke", str(uuid.uuid4())))
    assert "no such client" in line


@pytest.mark.parametrize("where", ["a folder that is a file", "a server not listening"])
def test_a_database_that_cannot_be_reached_is_one_line(where, databases, tmp_path):
    (tmp_path / "a-file").touch()
    url = f"sqlite:///{tmp_path / 'a-file' / 'referral.db'}" if where.startswith("a folder") else "postgresql://nobody@127.0.0.1:1/nowhere"
    line = one_line_error(cli({**databases, "REFERRAL_API_DATABASE_URL": url}, "clients", "list"))
    assert "a-file" in line if where.startswith("a folder") else "the database could not be used" in line


def test_a_database_never_migrated_says_to_migrate(databases, tmp_path):
    line = one_line_error(cli({**databases, "REFERRAL_API_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}, "clients", "list"))
    assert "diversion-link migrate" in line


def gateway_clients(url: str) -> int:
    engine = make_engine(url)
    with Session(engine) as session:
        count = session.scalar(select(func.count()).select_from(GatewayClient))
    engine.dispose()
    return count


def test_a_provider_key_is_only_for_a_provider_that_exists(databases):
    gateway_url = databases["PROVIDER_GATEWAY_DATABASE_URL"]
    unknown = uuid.uuid4()

    line = one_line_error(cli(databases, "clients", "create", "--role", "provider", "--name", "Ghost", "--provider-id", str(unknown)))

    assert str(unknown) in line and "provider" in line
    assert gateway_clients(gateway_url) == 0
    engine = make_engine(gateway_url)
    with Session(engine) as session:
        provider, _ = create_provider(session, ProviderCreate(
            name="Reading Drug Service", pathways=[Pathway.adult_deferred_summons], districts=["reading"],
            out_of_hours=False, delivery_mode=DeliveryMode.pull, contact_email="intake@provider.example",
        ))
    engine.dispose()
    created = cli(databases, "clients", "create", "--role", "provider", "--name", "Reading", "--provider-id", str(provider.id), "--json")
    assert created.returncode == 0, created.stderr
    assert gateway_clients(gateway_url) == 1
