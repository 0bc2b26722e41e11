"""Signing secrets of providers: issue, rotate with an overlap, list those in force.

The rules are diversion_common.webhooks.secrets'; these name the gateway's table.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from diversion_common.webhooks import secrets
from provider_gateway.providers.tables import ProviderSecret


def issue_secret(session: Session, provider_id: uuid.UUID, *, overlap: timedelta | None = None) -> ProviderSecret:
    """A new secret; the ones in force now stay valid for ``overlap`` (none: they end now)."""
    return secrets.issue_secret(session, ProviderSecret, provider_id, overlap=overlap)


def secrets_in_force(session: Session, provider_ids: list[uuid.UUID], now: datetime | None = None) -> dict[uuid.UUID, list[ProviderSecret]]:
    return secrets.secrets_in_force(session, ProviderSecret, provider_ids, now)  # type: ignore[return-value]


def keys_in_force(session: Session, provider_id: uuid.UUID) -> list[str]:
    return secrets.keys_in_force(session, ProviderSecret, provider_id)
