"""Personal data is not kept once its purpose is served: a delivered message keeps only a digest.

A message's payload (an outbox row, a webhook delivery) is needed until the other
side has it. Then it is erased and its SHA-256 digest kept: enough to prove what was
sent (a webhook's digest is that of the exact body we signed and sent), nothing to
read a person's details from.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine, select, text
from sqlmodel import Session


def canonical_json(payload: Any) -> bytes:
    """The bytes a webhook body is sent as (the worker's serialisation), and what is digested."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def sha256_of(payload: Any) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


class HoldsPayload(Protocol):
    payload: dict[str, Any] | None
    payload_sha256: str | None


def erase_payload(row: HoldsPayload) -> None:
    """Keep the digest of the row's payload, drop the payload (a second call changes nothing)."""
    if row.payload is not None:
        row.payload_sha256 = sha256_of(row.payload)
        row.payload = None


# Why a message about a case whose retention period is over was never sent.
NOT_SENT_AFTER_RETENTION = "set aside unsent: the case's personal data was erased by retention"


def settle_messages(session: Session, table: Any, aggregate_id: uuid.UUID, now: datetime) -> int:
    """Retention's part of an outbox (``OutboxFields`` rows about one case): every message keeps
    only its digest, and one still unsent this long after the case ended is set aside as refused,
    never to carry the erased details anywhere. Returns how many rows changed."""
    rows = list(session.scalars(select(table).where(table.aggregate_id == aggregate_id, table.payload.is_not(None))))
    for row in rows:
        if row.sent_at is None and row.refused_at is None:
            row.refused_at, row.last_error = now, NOT_SENT_AFTER_RETENTION
        erase_payload(row)
        session.add(row)
    return len(rows)


def overwrite_erased_bytes(session: Session) -> None:
    """On SQLite, make this session's connection zero what it deletes or rewrites, so an erased
    value does not stay behind in a free page of the file (PostgreSQL's VACUUM reclaims its own)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA secure_delete = ON"))


def checkpoint_after_erasure(engine: Engine) -> None:
    """On SQLite, once an erasure has committed: copy the write-ahead log into the database and
    empty it, so the erased values' old pages no longer sit in the ``-wal`` file."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # On the driver's connection, outside any transaction (the engine begins each with BEGIN IMMEDIATE).
            connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
