"""What a disabled provider's key may still do.

Disabling stops new work: a disabled provider is routed nothing, its cases still
waiting for its answer go to the next provider, and it may not answer or report
(403 ``provider-disabled``). It keeps reading what is still its own (the cases it
accepted, its receipts) and is told of the cases taken from it; see docs/SECURITY.md.
"""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlmodel import Session

from provider_gateway.errors import ProviderDisabled
from provider_gateway.providers.tables import Provider


def is_active(session: Session, provider_id: uuid.UUID) -> bool:
    # Asked on every provider call that changes something: one column, by a statement built once.
    return bool(session.connection().execute(_ACTIVE, {"provider": provider_id}).scalar())


_ACTIVE = select(Provider.active).where(Provider.id == bindparam("provider"))  # type: ignore[arg-type]


def must_be_active(session: Session, provider_id: uuid.UUID) -> None:
    if not is_active(session, provider_id):
        raise ProviderDisabled("a disabled provider may read its cases but not answer or report on them")
