"""Issuing, listing and revoking API credentials in a service's client table."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.credentials import ClientFields, Role, new_key
from diversion_common.database import utcnow


class ClientError(ValueError):
    pass


# A police system sees its own force's cases; a Youth Justice Unit, the young people of its force's area.
FORCE_BOUND_ROLES = frozenset({Role.police, Role.yju})


@dataclass(frozen=True)
class IssuedCredential:
    client_id: uuid.UUID
    api_key: str


def create_client(
    session: Session,
    table: type[ClientFields],
    *,
    name: str,
    role: Role,
    force: str | None = None,
    provider_id: uuid.UUID | None = None,
    court: str | None = None,
    client_id: uuid.UUID | None = None,
    key_hash: str | None = None,
    known_forces: Collection[str] | None = None,
    known_courts: Collection[str] | None = None,
) -> IssuedCredential:
    """Create a client; the key is returned once and only its hash is stored.

    ``client_id`` and ``key_hash`` let one credential be registered in both
    services (an admin), without the key itself ever being stored. ``known_forces`` and
    ``known_courts``: the ones in use (referral_api's reference data), when the caller read them.
    """
    if role in FORCE_BOUND_ROLES and not force:
        raise ClientError(f"a {role.value} client needs --force: the force whose cases it sees")
    if force and known_forces is not None and force not in known_forces:
        raise ClientError(f"--force must be a force in use, one of: {', '.join(sorted(known_forces))}")
    if role not in FORCE_BOUND_ROLES and force is not None:
        raise ClientError("only police and yju clients belong to a force")
    if role is Role.court and not court:
        raise ClientError("a court client needs --court: the one court whose breach requests it sees")
    if role is not Role.court and court is not None:
        raise ClientError("only court clients belong to a court")
    if court and known_courts is not None and court not in known_courts:
        raise ClientError(f"--court must be a court in use, one of: {', '.join(sorted(known_courts))}")
    if role is Role.provider and provider_id is None:
        raise ClientError("a provider client needs --provider-id")
    client_id = client_id or uuid.uuid4()
    api_key, fresh_hash = new_key(client_id)
    session.add(
        table(
            id=client_id,
            name=name,
            role=role.value,
            force=force,
            court=court,
            provider_id=provider_id,
            key_hash=key_hash or fresh_hash,
        )
    )
    session.commit()
    return IssuedCredential(client_id=client_id, api_key=api_key)


def list_clients(session: Session, table: type[ClientFields]) -> list[ClientFields]:
    return list(session.scalars(select(table).order_by(table.created_at)))  # type: ignore[arg-type]


def revoke_client(session: Session, table: type[ClientFields], client_id: uuid.UUID) -> bool:
    client = session.get(table, client_id)
    if client is None:
        return False
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        session.commit()
    return True
