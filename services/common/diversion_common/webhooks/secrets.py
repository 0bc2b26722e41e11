"""Endpoints' signing secrets: issue, rotate with an overlap, list those in force."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Select, bindparam, or_, select
from sqlmodel import Session

from diversion_common.database import as_utc, utcnow
from diversion_common.signing import new_secret
from diversion_common.webhooks.tables import SigningSecretFields

Secret = TypeVar("Secret", bound=SigningSecretFields)


def issue_secret(session: Session, table: type[Secret], endpoint_id: Hashable, *, overlap: timedelta | None = None) -> Secret:
    """A new secret; the ones in force now stay valid for ``overlap`` (none: they end now)."""
    now = utcnow()
    ends = now + overlap if overlap is not None else now
    for current in secrets_in_force(session, table, [endpoint_id], now).get(endpoint_id, []):
        if current.expires_at is None or as_utc(current.expires_at) > ends:
            current.expires_at = ends
            session.add(current)
    secret = table(**{table.endpoint_column: endpoint_id}, secret=new_secret(), created_at=now)
    session.add(secret)
    return secret


def secrets_in_force(
    session: Session, table: type[Secret], endpoint_ids: Iterable[Hashable], now: datetime | None = None
) -> dict[Hashable, list[Secret]]:
    """Each endpoint's secrets valid at ``now``, oldest first."""
    now = now or utcnow()
    rows = session.scalars(
        select(table)
        .where(
            table.endpoint().in_(list(endpoint_ids)),
            _in_force(table.expires_at, now),
        )
        .order_by(table.id)  # type: ignore[arg-type]
    )
    by_endpoint: dict[Hashable, list[Secret]] = defaultdict(list)
    for row in rows:
        by_endpoint[row.endpoint_id()].append(row)
    return dict(by_endpoint)


def keys_in_force(session: Session, table: type[SigningSecretFields], endpoint_id: Hashable) -> list[str]:
    """The endpoint's secrets valid now, oldest first: only the keys, to verify a signature with.
    Every provider event asks: one statement built once, no ORM objects."""
    rows = session.connection().execute(_keys_in_force(table), {"endpoint": endpoint_id, "now": utcnow()})
    return [row.secret for row in rows]


@cache
def _keys_in_force(table: type[SigningSecretFields]) -> Select[Any]:
    columns = table.__table__.c  # type: ignore[attr-defined]
    return (
        select(columns.secret)
        .where(columns[table.endpoint_column] == bindparam("endpoint"), _in_force(columns.expires_at, bindparam("now")))
        .order_by(columns.id)
    )


def _in_force(expires_at: Any, now: Any) -> Any:
    """A secret is in force until it expires; one with no expiry, until it is rotated out."""
    return or_(expires_at.is_(None), expires_at > now)
