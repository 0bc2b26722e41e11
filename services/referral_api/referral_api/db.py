"""referral_api's own tables live in their own metadata, apart from the gateway's."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from sqlalchemy.orm import registry
from sqlmodel import Session, SQLModel


class ReferralTable(SQLModel, registry=registry()):
    """Base of every referral_api table."""


def get_session(request: Request) -> Iterator[Session]:
    """A call's session: use it as ``Depends(get_session, scope="function")``, so that it is closed
    (its connection given back) before the answer is sent, not after (diversion_common/admission.py)."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


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
