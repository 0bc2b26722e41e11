"""Signing secrets are stored encrypted with a key from the environment, with key rotation (issue 16, item 8)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from diversion_common import secrets_at_rest
from diversion_common.database import make_engine
from diversion_common.secrets_at_rest import SecretsKeyError, keyring, new_key
from diversion_common.webhooks.secrets import issue_secret, secrets_in_force
from referral_api.callbacks.tables import CallbackSecret

KEYS = "REFERRAL_API_SECRETS_KEYS"


pytestmark = pytest.mark.usefixtures("keys_from_environment")  # these tests set the keys in the environment


@pytest.fixture
def engine(fresh_database):
    engine = make_engine(fresh_database("referral_api"))
    yield engine
    engine.dispose()


def store_secret(engine) -> str:
    with Session(engine) as session:
        secret = issue_secret(session, CallbackSecret, "thames-valley").secret
        session.commit()
    return secret


def stored_tokens(engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT secret FROM referral_callback_secrets ORDER BY id"))]


def secrets_read_back(engine) -> list[str]:
    with Session(engine) as session:
        return [s.secret for s in secrets_in_force(session, CallbackSecret, ["thames-valley"]).get("thames-valley", [])]


def test_a_signing_secret_is_stored_as_a_fernet_token_under_the_environments_key(engine, monkeypatch):
    key = new_key()
    monkeypatch.setenv(KEYS, key)
    secret = store_secret(engine)

    [token] = stored_tokens(engine)
    assert secret.startswith("whsec_") and secret not in token
    assert Fernet(key.encode()).decrypt(token.encode()).decode() == secret
    assert secrets_read_back(engine) == [secret]


def test_rotate_key_re_encrypts_every_secret_so_the_old_key_can_go(engine, monkeypatch):
    old, new = new_key(), new_key()
    monkeypatch.setenv(KEYS, old)
    first, second = store_secret(engine), store_secret(engine)

    monkeypatch.setenv(KEYS, f"{new},{old}")  # the new key first: it encrypts, both decrypt
    assert secrets_read_back(engine) == [second]  # the first ended when the second was issued
    with engine.begin() as connection:
        assert secrets_at_rest.rotate_stored(connection, "referral_callback_secrets", KEYS) == 2

    monkeypatch.setenv(KEYS, new)  # the old key dropped
    tokens = stored_tokens(engine)
    assert [Fernet(new.encode()).decrypt(t.encode()).decode() for t in tokens] == [first, second]
    assert secrets_read_back(engine) == [second]


def test_without_the_key_that_encrypted_them_secrets_cannot_be_read_and_the_error_names_the_setting(engine, monkeypatch):
    monkeypatch.setenv(KEYS, new_key())
    store_secret(engine)
    other = new_key()
    monkeypatch.setenv(KEYS, other)
    with pytest.raises(SecretsKeyError) as raised:
        secrets_read_back(engine)
    assert KEYS in str(raised.value) and other not in str(raised.value)


@pytest.mark.parametrize("value", ["", "not-a-fernet-key", " , "])
def test_a_missing_or_malformed_key_is_refused_without_echoing_it(monkeypatch, value):
    monkeypatch.setenv(KEYS, value)
    with pytest.raises(SecretsKeyError) as raised:
        secrets_at_rest.keyring(KEYS)
    assert KEYS in str(raised.value)
    assert value.strip(" ,") == "" or value not in str(raised.value)


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_a_service_without_its_keys_refuses_to_start(fresh_database, monkeypatch, service):
    if service == "referral_api":
        from referral_api.config import Settings
        from referral_api.main import create_app

        variable, settings = "REFERRAL_API_SECRETS_KEYS", {"gateway_api_key": None}
    else:
        from provider_gateway.config import Settings
        from provider_gateway.main import create_app

        variable, settings = "PROVIDER_GATEWAY_SECRETS_KEYS", {"referral_api_key": None}
    monkeypatch.delenv(variable)
    app = create_app(Settings(database_url=fresh_database(service), run_delivery_worker=False, **settings))
    with pytest.raises(SecretsKeyError, match=variable):
        with TestClient(app):
            pass


def test_keys_come_from_the_secrets_file_when_the_environment_has_none(monkeypatch, tmp_path, keys_from_environment):
    """As a container's CLI command or standalone worker reads them (docker/compose.yaml's secrets)."""
    from diversion_common import settings

    key = new_key()
    (tmp_path / KEYS.lower()).write_text(f"{key}\n")
    monkeypatch.delenv(KEYS)
    with pytest.raises(SecretsKeyError, match=f"{KEYS} is not set"):
        keyring(KEYS)
    monkeypatch.setattr(settings, "SECRETS_DIR", tmp_path)
    assert keyring(KEYS).decrypt(Fernet(key.encode()).encrypt(b"signing secret")) == b"signing secret"
