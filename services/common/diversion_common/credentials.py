"""API credentials: keys shown once, stored only as a hash, bound to a role.

A key looks like ``dl_<client id>_<secret>`` so that the lookup is by primary
key and the comparison is constant-time on the hash.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel

from diversion_common.database import utcnow
from diversion_common.roles import Role  # noqa: F401 (its home is a light module: the CLI's --help loads it)

KEY_PREFIX = "dl"


class ClientFields(SQLModel):
    """Columns every service's client table has; each service names its own table."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20, index=True)
    force: str | None = Field(default=None, max_length=60)
    court: str | None = Field(default=None, max_length=60)  # a court client's court (referral_api/reference/)
    provider_id: uuid.UUID | None = Field(default=None)
    key_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the client behind a valid credential."""

    client_id: uuid.UUID
    name: str
    role: Role
    force: str | None = None
    provider_id: uuid.UUID | None = None
    court: str | None = None


def hash_secret(secret: str) -> str:
    # Keys are 256 random bits, so a plain digest is enough: no dictionary to guess from.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(client_id: uuid.UUID) -> tuple[str, str]:
    """Return (the key to show once, the hash to store)."""
    secret = secrets.token_urlsafe(32)
    return f"{KEY_PREFIX}_{client_id.hex}_{secret}", hash_secret(secret)


def parse_key(key: str) -> tuple[uuid.UUID, str] | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    try:
        return uuid.UUID(hex=parts[1]), parts[2]
    except ValueError:
        return None


def key_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
