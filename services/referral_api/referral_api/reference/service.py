"""Reading and changing the reference data (reference/tables.py). Each change is one transaction.

Kept consistent: a district in use (not retired) has a force and a court in use, so a force or a
court is retired only once no district in use names it. A district's change is sent to the
gateway (its copy of the districts: docs/ARCHITECTURE.md, "Reference data") in the same transaction.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common.contracts import REFERENCE_AGGREGATE, DistrictChanged, Topic
from diversion_common.database import utcnow
from diversion_common.messaging import enqueue
from diversion_common.problems import Conflict, FieldError, NotFound, ValidationFailed
from referral_api.messaging.tables import OutboxMessage
from referral_api.reference.schemas import (
    CourtCreate,
    CourtPublic,
    CourtUpdate,
    DistrictCreate,
    DistrictPublic,
    DistrictUpdate,
    ForceCreate,
    ForcePublic,
    ForceUpdate,
)
from referral_api.reference.tables import Court, District, Force

Row = TypeVar("Row", Force, Court, District)
_KIND = {Force: "force", Court: "court", District: "district"}


class ReferenceCodeTaken(Conflict):
    slug = "reference-code-taken"
    title = "This code is already in use"


class ReferenceInUse(Conflict):
    slug = "reference-in-use"
    title = "Districts in use still name it"


# --- reading ------------------------------------------------------------------


def force_of_district_in_use(session: Session, code: str) -> str | None:
    """The force of a district a new referral may name (known, and not retired); None for any other."""
    # A prebuilt statement on the session's connection: every referral asks (an ORM load was 5% of intake's CPU).
    return session.connection().execute(_FORCE_OF_DISTRICT_IN_USE, {"code": code}).scalar()


_FORCE_OF_DISTRICT_IN_USE = select(District.force).where(District.code == bindparam("code"), District.retired_at.is_(None))  # type: ignore[union-attr]


def court_of_district(session: Session, code: str) -> str:
    """The magistrates' court that hears ``code``'s adults now (a retired district keeps its last court)."""
    district = session.get(District, code)
    if district is None:
        raise LookupError(f"no district {code!r}")  # a case's district is one intake accepted: never deleted
    return district.court


def in_use_codes(session: Session, table: type[Row]) -> set[str]:
    return set(session.scalars(select(table.code).where(table.retired_at.is_(None))))  # type: ignore[attr-defined, union-attr]


def list_forces(session: Session) -> list[ForcePublic]:
    return [ForcePublic(code=f.code, name=f.name, retired=f.retired_at is not None) for f in _all(session, Force)]


def list_courts(session: Session) -> list[CourtPublic]:
    return [CourtPublic(code=c.code, name=c.name, retired=c.retired_at is not None) for c in _all(session, Court)]


def list_districts(session: Session) -> list[DistrictPublic]:
    return [_district_public(d) for d in _all(session, District)]


def _all(session: Session, table: type[Row]) -> list[Row]:
    return list(session.scalars(select(table).order_by(table.code)))  # type: ignore[arg-type]


def _district_public(district: District) -> DistrictPublic:
    return DistrictPublic(
        code=district.code, name=district.name, force=district.force, population=district.population,
        court=district.court, retired=district.retired_at is not None,
    )


# --- changing -----------------------------------------------------------------


def add_force(session: Session, request: ForceCreate) -> ForcePublic:
    _must_be_new(session, Force, request.code)
    force = Force(code=request.code, name=request.name)
    _save(session, force)
    return ForcePublic(code=force.code, name=force.name, retired=False)


def add_court(session: Session, request: CourtCreate) -> CourtPublic:
    _must_be_new(session, Court, request.code)
    court = Court(code=request.code, name=request.name)
    _save(session, court)
    return CourtPublic(code=court.code, name=court.name, retired=False)


def add_district(session: Session, request: DistrictCreate) -> DistrictPublic:
    _must_be_new(session, District, request.code)
    _must_be_in_use(session, Force, request.force, "/force")
    _must_be_in_use(session, Court, request.court, "/court")
    district = District(**request.model_dump())
    _announce(session, district)
    _save(session, district)
    return _district_public(district)


def change_force(session: Session, code: str, request: ForceUpdate) -> ForcePublic:
    force = _changed(session, Force, code, request.model_dump(exclude_unset=True))
    _save(session, force)
    return ForcePublic(code=force.code, name=force.name, retired=force.retired_at is not None)


def change_court(session: Session, code: str, request: CourtUpdate) -> CourtPublic:
    court = _changed(session, Court, code, request.model_dump(exclude_unset=True))
    _save(session, court)
    return CourtPublic(code=court.code, name=court.name, retired=court.retired_at is not None)


def change_district(session: Session, code: str, request: DistrictUpdate) -> DistrictPublic:
    changes = request.model_dump(exclude_unset=True)
    if "force" in changes and changes["force"] is not None:
        _must_be_in_use(session, Force, changes["force"], "/force")
    if "court" in changes and changes["court"] is not None:
        _must_be_in_use(session, Court, changes["court"], "/court")
    district = _changed(session, District, code, changes)
    if district.retired_at is None:  # reinstated, or changed while in use: what it names must be in use
        _must_be_in_use(session, Force, district.force, "/force")
        _must_be_in_use(session, Court, district.court, "/court")
    _announce(session, district)
    _save(session, district)
    return _district_public(district)


def _changed(session: Session, table: type[Row], code: str, changes: dict[str, Any]) -> Row:
    row = session.get(table, code, with_for_update=True)
    if row is None:
        raise NotFound(f"no such {_KIND[table]}")
    for field, value in changes.items():
        if value is None:
            raise ValidationFailed(errors=[FieldError(pointer=f"/{field}", detail="may not be null")])
        if field == "retired":
            if value and table is not District and row.retired_at is None:
                _no_district_in_use_names(session, table, code)
            row.retired_at = (row.retired_at or utcnow()) if value else None
        else:
            setattr(row, field, value)
    row.updated_at = utcnow()
    return row


def _no_district_in_use_names(session: Session, table: type[Row], code: str) -> None:
    column = District.force if table is Force else District.court
    naming = session.scalars(select(District.code).where(column == code, District.retired_at.is_(None))).first()  # type: ignore[union-attr]
    if naming is not None:
        raise ReferenceInUse(f"districts in use name this {_KIND[table]}: reassign or retire them first")


def _must_be_new(session: Session, table: type[Row], code: str) -> None:
    if session.get(table, code) is not None:
        raise ReferenceCodeTaken(errors=[FieldError(pointer="/code", detail=f"is already a {_KIND[table]}'s code")])


def _must_be_in_use(session: Session, table: type[Row], code: str, pointer: str) -> None:
    row = session.get(table, code)
    if row is None or row.retired_at is not None:
        raise ValidationFailed(errors=[FieldError(pointer=pointer, detail=f"is not a {_KIND[table]} in use (GET /v1/reference/{_KIND[table]}s)")])


def _announce(session: Session, district: District) -> None:
    message = DistrictChanged(code=district.code, force=district.force, name=district.name, retired=district.retired_at is not None)
    enqueue(session, OutboxMessage(topic=Topic.district_changed.value, aggregate_id=REFERENCE_AGGREGATE, payload=message.model_dump(mode="json")))


def _save(session: Session, row: Force | Court | District) -> None:
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same code added at the same time: the other call won
        session.rollback()
        raise ReferenceCodeTaken(errors=[FieldError(pointer="/code", detail=f"is already a {_KIND[type(row)]}'s code")]) from None
