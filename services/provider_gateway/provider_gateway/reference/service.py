"""The gateway's copy of the districts (reference/tables.py): kept in step with referral_api's, read
when a provider is set to serve districts."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlmodel import Session

from diversion_common.contracts import DistrictChanged
from diversion_common.database import utcnow
from diversion_common.problems import FieldError, ValidationFailed
from provider_gateway.reference.tables import District


def in_use_districts(session: Session) -> set[str]:
    return set(session.scalars(select(District.code).where(District.retired.is_(False))))  # type: ignore[attr-defined]


def must_be_in_use(session: Session, districts: Iterable[str], pointer: str = "/districts") -> None:
    """Refuse, naming each, the districts that are unknown or retired (a 422, as a bad code's shape is)."""
    in_use = in_use_districts(session)
    errors = [
        FieldError(pointer=f"{pointer}/{index}", detail="is not a district in use (referral_api: GET /v1/reference/districts)")
        for index, code in enumerate(districts) if code not in in_use
    ]
    if errors:
        raise ValidationFailed(errors=errors)


def take(session: Session, message: DistrictChanged) -> None:
    """referral_api's district as it now is (in the caller's transaction: the inbox's)."""
    district = session.get(District, message.code, with_for_update=True) or District(code=message.code)
    district.force, district.name, district.retired, district.updated_at = message.force, message.name, message.retired, utcnow()
    session.add(district)
