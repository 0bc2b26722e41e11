"""referral_api's own tables live in their own metadata, apart from the gateway's."""

from __future__ import annotations

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from diversion_common.database import call_session as get_session  # noqa: F401 - each service's routes take it from here


class ReferralTable(SQLModel, registry=registry()):
    """Base of every referral_api table."""


def import_all_tables() -> None:
    """Import every table module so the metadata is complete (Alembic, tests)."""
    import referral_api.audit.tables  # noqa: F401
    import referral_api.breaches.tables  # noqa: F401
    import referral_api.case_log.tables  # noqa: F401
    import referral_api.cases.tables  # noqa: F401
    import referral_api.clients.tables  # noqa: F401
    import referral_api.messaging.tables  # noqa: F401
    import referral_api.callbacks.tables  # noqa: F401
    import referral_api.reference.tables  # noqa: F401
