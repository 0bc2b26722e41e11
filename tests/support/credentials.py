from __future__ import annotations

import uuid

from sqlalchemy import Engine
from sqlmodel import Session

from diversion_common.clients import create_client
from diversion_common.credentials import Role


def issue_key(
    engine: Engine, table: type, role: Role, *, force: str | None = None, provider_id: uuid.UUID | None = None, court: str | None = None
) -> str:
    with Session(engine) as session:
        return create_client(session, table, name=f"test {role.value}", role=role, force=force, provider_id=provider_id, court=court).api_key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
