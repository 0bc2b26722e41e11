"""The operator's commands for personal data at rest, run as an operator runs them (issue 16, item 8):
`diversion-link secrets rotate-key`, `diversion-link retention run [--dry-run]`, and the demo's
keys and files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.database import make_engine, utcnow
from diversion_common.secrets_at_rest import new_key
from diversion_common.webhooks.secrets import issue_secret
from provider_gateway.providers.tables import ProviderSecret
from referral_api.cases.tables import Case
from referral_api.clients.tables import Client
from referral_api.callbacks.tables import CallbackSecret
from support.credentials import issue_key
from support.processes import REPO, cli
from support.referrals import adult_referral

REFERRAL_KEYS, GATEWAY_KEYS = "REFERRAL_API_SECRETS_KEYS", "PROVIDER_GATEWAY_SECRETS_KEYS"


@pytest.fixture
def databases(fresh_database) -> dict[str, str]:
    return {"REFERRAL_API_DATABASE_URL": fresh_database("referral_api"), "PROVIDER_GATEWAY_DATABASE_URL": fresh_database("provider_gateway")}


def tokens(url: str, table: str) -> list[str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        found = [row[0] for row in connection.execute(text(f"SELECT secret FROM {table} ORDER BY id"))]
    engine.dispose()
    return found


def test_rotate_key_re_encrypts_both_services_secrets_under_the_new_first_key(databases):
    stored = {}
    for variable, table, url in (
        (REFERRAL_KEYS, CallbackSecret, databases["REFERRAL_API_DATABASE_URL"]),
        (GATEWAY_KEYS, ProviderSecret, databases["PROVIDER_GATEWAY_DATABASE_URL"]),
    ):
        engine = make_engine(url)
        with Session(engine) as session:  # under the tests' keys (tests/conftest.py)
            endpoint = "thames-valley" if table is CallbackSecret else uuid.uuid4()
            stored[variable] = issue_secret(session, table, endpoint).secret
            session.commit()
        engine.dispose()
    new = {REFERRAL_KEYS: new_key(), GATEWAY_KEYS: new_key()}

    result = cli({**databases, **{v: f"{new[v]},{os.environ[v]}" for v in new}}, "secrets", "rotate-key")

    assert result.returncode == 0, result.stderr
    assert "referral_api: 1 signing secret(s) re-encrypted" in result.stdout
    for variable, url, table in (
        (REFERRAL_KEYS, databases["REFERRAL_API_DATABASE_URL"], "referral_callback_secrets"),
        (GATEWAY_KEYS, databases["PROVIDER_GATEWAY_DATABASE_URL"], "gateway_provider_secrets"),
    ):
        [token] = tokens(url, table)
        assert Fernet(new[variable].encode()).decrypt(token.encode()).decode() == stored[variable]  # the old key can go
        assert stored[variable] not in result.stdout + result.stderr


def test_rotate_key_without_a_key_that_opens_the_secrets_changes_nothing(databases):
    engine = make_engine(databases["REFERRAL_API_DATABASE_URL"])
    with Session(engine) as session:
        issue_secret(session, CallbackSecret, "thames-valley")
        session.commit()
    engine.dispose()
    before = tokens(databases["REFERRAL_API_DATABASE_URL"], "referral_callback_secrets")
    wrong = new_key()

    result = cli({**databases, REFERRAL_KEYS: wrong}, "secrets", "rotate-key")

    assert result.returncode == 2 and REFERRAL_KEYS in result.stderr and wrong not in result.stderr
    assert tokens(databases["REFERRAL_API_DATABASE_URL"], "referral_callback_secrets") == before


def test_retention_run_dry_run_counts_and_then_erases_cases_ended_longer_ago_than_the_period(databases):
    from fastapi.testclient import TestClient

    from referral_api.config import Settings
    from referral_api.main import create_app

    url = databases["REFERRAL_API_DATABASE_URL"]
    engine = make_engine(url)
    police = {"Authorization": f"Bearer {issue_key(engine, Client, Role.police, force='thames-valley')}"}
    with TestClient(create_app(Settings(database_url=url, gateway_api_key=None, run_delivery_worker=False))) as api:
        old = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
        recent = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
        for case_id in (old, recent):
            assert api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "other"}, headers=police).status_code == 200
    with Session(engine) as session:  # as if it ended 400 days ago
        session.get(Case, uuid.UUID(old)).updated_at = utcnow() - timedelta(days=400)
        session.commit()

    dry = cli(databases, "retention", "run", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    counts = {run["service"]: run for run in json.loads(dry.stdout)}
    assert counts["referral_api"]["cases"] == 1 and counts["referral_api"]["retention_days"] == 365 and counts["referral_api"]["dry_run"]
    with Session(engine) as session:
        assert session.get(Case, uuid.UUID(old)).referral is not None

    done = cli(databases, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert "referral_api: 1 case(s) ended before" in done.stdout and "erased" in done.stdout
    with Session(engine) as session:
        assert session.get(Case, uuid.UUID(old)).referral is None
        assert session.get(Case, uuid.UUID(recent)).referral is not None
    engine.dispose()


def test_the_demo_generates_its_keys_and_writes_its_keys_and_credentials_readable_by_its_owner_only(databases, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in (REFERRAL_KEYS, GATEWAY_KEYS)}
    env_file = tmp_path / ".run" / "demo.env"

    result = subprocess.run(
        [sys.executable, "-m", "diversion_cli.main", "demo-seed", "--env-file", str(env_file)],
        env={**env, **databases}, cwd=REPO, capture_output=True, text=True, timeout=120,
    )

    assert result.returncode == 0, result.stderr
    credentials = env_file.parent / "demo-credentials.json"
    for path in (env_file, credentials):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    written = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    gateway_key = written[GATEWAY_KEYS]
    assert Fernet(written[REFERRAL_KEYS].encode()) and Fernet(gateway_key.encode())
    signing = {c["signing_secret"] for c in json.loads(credentials.read_text()).values() if "signing_secret" in c}
    stored = {Fernet(gateway_key.encode()).decrypt(t.encode()).decode() for t in tokens(databases["PROVIDER_GATEWAY_DATABASE_URL"], "gateway_provider_secrets")}
    assert stored == signing and len(signing) == 2
