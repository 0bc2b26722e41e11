"""Secrets we must read back (webhook signing secrets) are stored encrypted, never in plain text.

We sign with an endpoint's secret, so a hash will not do: the column holds a Fernet
token (AES-128-CBC + HMAC-SHA256, from the maintained ``cryptography`` package), and
the key comes from the environment, never from the database. Each service has its
own keys, in one setting holding a comma-separated list (``REFERRAL_API_SECRETS_KEYS``,
``PROVIDER_GATEWAY_SECRETS_KEYS``): the first encrypts, every one decrypts
(``MultiFernet``). To rotate, put a new key first, run ``diversion-link secrets
rotate-key`` (every token re-encrypted under the new key), then drop the old key.

The column type does the work (``EncryptedString``), so code reads and writes plain
strings and cannot store one unencrypted by mistake. Errors name the setting, never a
key or a secret.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr
import sqlalchemy as sa
from sqlalchemy import String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

# A Fernet token of a 100-character secret is 228 characters; room to spare.
ENCRYPTED_LENGTH = 500


class SecretsKeyError(RuntimeError):
    """The keys are missing, malformed, or none of them opens a stored secret."""


def new_key() -> str:
    """A fresh key for a ``*_SECRETS_KEYS`` setting."""
    return Fernet.generate_key().decode()


@lru_cache(maxsize=16)
def _keyring(value: str, variable: str) -> MultiFernet:
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise SecretsKeyError(f"{variable} is not set: signing secrets are encrypted at rest with its keys")
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError:
        # Never echo the value: it is a key.
        raise SecretsKeyError(f"{variable} holds a value that is not a Fernet key (32 url-safe base64-encoded bytes)") from None


# Keys given by a service's settings (create_app, the CLI); otherwise the environment is read.
_configured: dict[str, str] = {}


def _plain(value: str | SecretStr | None) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return value or ""


def use_keys(variable: str, value: str | SecretStr | None) -> None:
    """Use these keys for ``variable``'s secrets in this process; checked now (raises when unusable).

    None forgets earlier ones, so the environment is read again."""
    plain = _plain(value)
    if not plain:
        _configured.pop(variable, None)
        return
    _keyring(plain, variable)
    _configured[variable] = plain


def keyring(variable: str) -> MultiFernet:
    """The keys of ``variable``: those a service configured, else the environment's, else its secrets file's."""
    return _keyring(_configured.get(variable) or os.environ.get(variable) or _secrets_file(variable), variable)


def _secrets_file(variable: str) -> str:
    """As pydantic-settings reads a setting from the secrets directory (diversion_common/settings.py)."""
    from diversion_common.settings import SECRETS_DIR

    path = SECRETS_DIR / variable.lower()
    return path.read_text().strip() if path.is_file() else ""


def encrypt(variable: str, plain: str) -> str:
    return keyring(variable).encrypt(plain.encode()).decode()


def decrypt(variable: str, token: str) -> str:
    try:
        return keyring(variable).decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretsKeyError(
            f"a secret stored encrypted cannot be opened with the keys in {variable}: "
            "was a key dropped before `diversion-link secrets rotate-key` re-encrypted everything under the new one?"
        ) from None


def rotate(variable: str, token: str) -> str:
    """The same secret, encrypted under the first key."""
    try:
        return keyring(variable).rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretsKeyError(f"a stored secret cannot be opened with any key in {variable}") from None


def rotate_stored(connection: Any, table: str, variable: str) -> int:
    """Re-encrypt every secret in ``table`` under the first key of ``variable`` (the caller
    commits). Works on the stored tokens themselves, not through the column type."""
    rows = sa.table(table, sa.column("id"), sa.column("secret", String()))
    tokens = connection.execute(sa.select(rows.c.id, rows.c.secret)).all()
    for row_id, token in tokens:
        connection.execute(rows.update().where(rows.c.id == row_id).values(secret=rotate(variable, token)))
    return len(tokens)


class EncryptedString(TypeDecorator[str]):
    """A string column stored as a Fernet token under the keys of one setting."""

    impl = String(ENCRYPTED_LENGTH)
    cache_ok = True

    def __init__(self, variable: str) -> None:
        super().__init__()
        self.variable = variable

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else encrypt(self.variable, value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else decrypt(self.variable, value)


def encrypted_field(variable: str, max_length: int = 100) -> Any:
    """A table field holding a secret encrypted at rest under ``variable``'s keys;
    ``max_length`` bounds the secret itself."""
    return Field(sa_type=EncryptedString(variable), max_length=max_length)


def requiring_keys(
    variable: str, value: str | SecretStr | None, inner: Callable[[Any], AbstractAsyncContextManager[None]]
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A service's lifespan that refuses to start without usable keys (a service that cannot
    sign or verify would only fail later, request by request)."""

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        use_keys(variable, value)
        keyring(variable)  # raises SecretsKeyError naming the setting when it is unset or bad
        async with inner(app):
            yield

    return lifespan
