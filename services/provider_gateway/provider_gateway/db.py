"""provider_gateway's own tables live in their own metadata, apart from referral_api's."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import registry
from sqlmodel import Session, SQLModel


class GatewayTable(SQLModel, registry=registry()):
    """Base of every provider_gateway table."""


def get_session(request: Request) -> Iterator[Session]:
    """A call's session: use it as ``Depends(get_session, scope="function")``, so that it is closed
    (its connection given back) before the answer is sent, not after (diversion_common/admission.py)."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def import_all_tables() -> None:
    """Import every table module so the metadata is complete (Alembic, tests)."""
    import provider_gateway.audit.tables  # noqa: F401
    import provider_gateway.cases.tables  # noqa: F401
    import provider_gateway.clients.tables  # noqa: F401
    import provider_gateway.deliveries.tables  # noqa: F401
    import provider_gateway.events.tables  # noqa: F401
    import provider_gateway.messaging.tables  # noqa: F401
    import provider_gateway.providers.tables  # noqa: F401
    import provider_gateway.reference.tables  # noqa: F401
    import provider_gateway.routing.tables  # noqa: F401
