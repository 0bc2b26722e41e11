"""Signing secrets of providers: issue, rotate with an overlap, list those in force."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlmodel import Session

from diversion_common.database import as_utc, utcnow
from diversion_common.signing import new_secret
from provider_gateway.providers.tables import ProviderSecret


def issue_secret(session: Session, provider_id: uuid.UUID, *, overlap: timedelta | None = None) -> ProviderSecret:
    """A new secret; the ones in force now stay valid for ``overlap`` (none: they end now)."""
    now = utcnow()
    ends = now + overlap if overlap is not None else now
    for current in secrets_in_force(session, [provider_id], now).get(provider_id, []):
        if current.expires_at is None or as_utc(current.expires_at) > ends:
            current.expires_at = ends
            session.add(current)
    secret = ProviderSecret(provider_id=provider_id, secret=new_secret(), created_at=now)
    session.add(secret)
    return secret


def secrets_in_force(session: Session, provider_ids: list[uuid.UUID], now: datetime | None = None) -> dict[uuid.UUID, list[ProviderSecret]]:
    now = now or utcnow()
    rows = session.scalars(
        select(ProviderSecret)
        .where(
            ProviderSecret.provider_id.in_(provider_ids),  # type: ignore[attr-defined]
            or_(ProviderSecret.expires_at.is_(None), ProviderSecret.expires_at > now),  # type: ignore[union-attr,operator]
        )
        .order_by(ProviderSecret.id)  # type: ignore[arg-type]
    )
    by_provider: dict[uuid.UUID, list[ProviderSecret]] = defaultdict(list)
    for row in rows:
        by_provider[row.provider_id].append(row)
    return dict(by_provider)
