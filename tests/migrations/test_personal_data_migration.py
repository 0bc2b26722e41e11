"""Revision 0004 brings data stored before it under control (issue 16, item 8): the gateway's
signing secrets encrypted, delivered payloads and ended cases' referrals erased (digests
kept); and it runs back, decrypting the secrets."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.fernet import Fernet

from diversion_common.database import make_engine
from diversion_common.erasure import sha256_of
from diversion_common.migrations import alembic_config, upgrade
from diversion_common.secrets_at_rest import SecretsKeyError

NOW = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
SECRET = "whsec_" + "A" * 44
REFERRAL = {"case_id": "x", "subject": {"given_name": "Sam", "family_name": "Synthetic"}}

secrets = sa.table("gateway_provider_secrets", sa.column("id", sa.Integer()), sa.column("secret", sa.String()),
                   sa.column("created_at", sa.DateTime(timezone=True)), sa.column("provider_id", sa.Uuid()))
cases = sa.table("gateway_cases", sa.column("case_id", sa.Uuid()), sa.column("pathway", sa.String()), sa.column("district", sa.String()),
                 sa.column("out_of_hours_wanted", sa.Boolean()), sa.column("status", sa.String()), sa.column("provider_payload", sa.JSON()),
                 sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)),
                 sa.column("personal_data_erased_at", sa.DateTime(timezone=True)))
deliveries = sa.table("gateway_deliveries", sa.column("id", sa.String()), sa.column("case_id", sa.Uuid()), sa.column("provider_id", sa.Uuid()),
                      sa.column("event_type", sa.String()), sa.column("payload", sa.JSON()), sa.column("status", sa.String()),
                      sa.column("attempts", sa.Integer()), sa.column("next_attempt_at", sa.DateTime(timezone=True)),
                      sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)),
                      sa.column("payload_sha256", sa.String()))


@pytest.fixture
def gateway_at_0003(fresh_database):
    url = fresh_database("provider_gateway")
    command.downgrade(alembic_config("provider_gateway", url), "0003")
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


def seed(engine) -> dict[str, uuid.UUID]:
    ids = {"open": uuid.uuid4(), "ended": uuid.uuid4(), "provider": uuid.uuid4()}
    with engine.begin() as connection:
        connection.execute(secrets.insert().values(secret=SECRET, created_at=NOW, provider_id=ids["provider"]))
        for name, status in (("open", "routed"), ("ended", "ended")):
            connection.execute(cases.insert().values(case_id=ids[name], pathway="adult_deferred_summons", district="reading",
                                                     out_of_hours_wanted=False, status=status, provider_payload=REFERRAL,
                                                     created_at=NOW, updated_at=NOW))
        for name, (case, status) in {"delivered": ("open", "delivered"), "waiting": ("open", "awaiting_pull"), "dead": ("ended", "dead")}.items():
            connection.execute(deliveries.insert().values(id=f"msg_{name}", case_id=ids[case], provider_id=ids["provider"], event_type="referral.created",
                                                          payload={"data": REFERRAL}, status=status, attempts=1, next_attempt_at=NOW,
                                                          created_at=NOW, updated_at=NOW))
    return ids


def test_0004_encrypts_stored_secrets_and_erases_what_was_delivered_or_has_ended(gateway_at_0003):
    url, engine = gateway_at_0003
    ids = seed(engine)

    upgrade("provider_gateway", url, "0004")

    with engine.connect() as connection:
        [token] = connection.execute(sa.select(secrets.c.secret)).scalars().all()
        held = {row.case_id: row for row in connection.execute(sa.select(cases))}
        sent = {row.id: row for row in connection.execute(sa.select(deliveries))}
    key = os.environ["PROVIDER_GATEWAY_SECRETS_KEYS"].split(",")[0]
    assert token != SECRET and Fernet(key.encode()).decrypt(token.encode()).decode() == SECRET
    assert held[ids["open"]].provider_payload == REFERRAL and held[ids["open"]].personal_data_erased_at is None
    assert held[ids["ended"]].provider_payload is None and held[ids["ended"]].personal_data_erased_at is not None
    for erased in ("msg_delivered", "msg_dead"):
        assert sent[erased].payload is None and sent[erased].payload_sha256 == sha256_of({"data": REFERRAL})
    assert sent["msg_waiting"].payload == {"data": REFERRAL} and sent["msg_waiting"].payload_sha256 is None

    command.downgrade(alembic_config("provider_gateway", url), "0003")
    with engine.connect() as connection:
        assert connection.execute(sa.select(secrets.c.secret)).scalar_one() == SECRET


def test_0004_refuses_to_run_over_stored_secrets_without_a_key(gateway_at_0003, monkeypatch, keys_from_environment):
    url, engine = gateway_at_0003
    seed(engine)
    monkeypatch.setenv("PROVIDER_GATEWAY_SECRETS_KEYS", "")
    with pytest.raises(SecretsKeyError, match="PROVIDER_GATEWAY_SECRETS_KEYS"):
        upgrade("provider_gateway", url, "0004")
    with engine.connect() as connection:
        assert connection.execute(sa.select(secrets.c.secret)).scalar_one() == SECRET  # nothing changed
