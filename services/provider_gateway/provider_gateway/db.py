"""provider_gateway's own tables live in their own metadata, apart from referral_api's."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from diversion_common.database import call_session as get_session  # noqa: F401 - each service's routes take it from here


class GatewayTable(SQLModel, registry=registry()):
    """Base of every provider_gateway table."""


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
