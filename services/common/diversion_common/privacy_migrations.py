"""Data steps of the migrations that brought personal data at rest under control (revision 0004
of each service): encrypt the signing secrets stored before, erase payloads already delivered.

They work on plain columns (``sa.table``), not on the models, so they keep working whatever
the models become.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from diversion_common import secrets_at_rest
from diversion_common.erasure import sha256_of


def _secrets(table: str) -> Any:
    return sa.table(table, sa.column("id", sa.Integer()), sa.column("secret", sa.String()))


def require_keys_for_secrets(connection: Any, table: str, variable: str) -> None:
    """Fail before any change when secrets are stored and ``variable`` holds no usable key."""
    if connection.execute(sa.select(sa.func.count()).select_from(_secrets(table))).scalar_one():
        secrets_at_rest.keyring(variable)


def encrypt_secrets(connection: Any, table: str, variable: str) -> None:
    rows = _secrets(table)
    for row_id, secret in connection.execute(sa.select(rows.c.id, rows.c.secret)).all():
        connection.execute(rows.update().where(rows.c.id == row_id).values(secret=secrets_at_rest.encrypt(variable, secret)))


def decrypt_secrets(connection: Any, table: str, variable: str) -> None:
    rows = _secrets(table)
    for row_id, token in connection.execute(sa.select(rows.c.id, rows.c.secret)).all():
        connection.execute(rows.update().where(rows.c.id == row_id).values(secret=secrets_at_rest.decrypt(variable, token)))


def erase_payloads(connection: Any, table: str, key: str, where: str) -> None:
    """Keep the digest of the payload of each row matching ``where`` (SQL) and drop the payload."""
    rows = sa.table(table, sa.column(key), sa.column("payload", sa.JSON(none_as_null=True)), sa.column("payload_sha256", sa.String()))
    selected = connection.execute(sa.select(rows.c[key], rows.c.payload).where(sa.text(where), rows.c.payload.is_not(None))).all()
    for row_key, payload in selected:
        connection.execute(rows.update().where(rows.c[key] == row_key).values(payload=sa.null(), payload_sha256=sha256_of(payload)))


def restore_empty_payloads(connection: Any, table: str, column: str = "payload") -> None:
    """For a downgrade: an erased payload cannot come back; an empty object stands in for it."""
    rows = sa.table(table, sa.column(column, sa.JSON()))
    connection.execute(rows.update().where(rows.c[column].is_(None)).values({column: {}}))
