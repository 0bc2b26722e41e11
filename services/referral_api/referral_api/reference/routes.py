"""The reference lists, for every party that names a force, a district or a court in its calls;
and the administrator's changes to them (audited, as every call is)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlmodel import Session

from diversion_common.problems import problem_responses
from diversion_common.reference import REFERENCE_CODE_LENGTH, REFERENCE_CODE_PATTERN
from referral_api.auth import Administrator, ReferenceReader
from referral_api.db import get_session
from referral_api.reference import service
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

router = APIRouter(prefix="/v1/reference", tags=["reference data"])
admin_router = APIRouter(prefix="/v1/admin/reference", tags=["reference data"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]
Code = Annotated[str, Path(max_length=REFERENCE_CODE_LENGTH, pattern=REFERENCE_CODE_PATTERN)]
_LIST = problem_responses(401, 403)
_ADD = problem_responses(400, 401, 403, 409, 413, 415, 422)
_CHANGE = problem_responses(400, 401, 403, 404, 409, 413, 415, 422)
RETIRE = " Retire one with `{\"retired\": true}` (kept on what already names it), reinstate it with `false`."


@router.get("/forces", response_model=list[ForcePublic], summary="The police forces of the scheme", responses=_LIST)
def list_forces(_reader: ReferenceReader, session: DbSession) -> list[ForcePublic]:
    return service.list_forces(session)


@router.get(
    "/districts", response_model=list[DistrictPublic], summary="The districts a referral's encounter may name", responses=_LIST,
    description="Each with its force, its population and the magistrates' court that hears its adults. "
    "A retired district is refused on new referrals.",
)
def list_districts(_reader: ReferenceReader, session: DbSession) -> list[DistrictPublic]:
    return service.list_districts(session)


@router.get("/courts", response_model=list[CourtPublic], summary="The magistrates' courts of the scheme", responses=_LIST)
def list_courts(_reader: ReferenceReader, session: DbSession) -> list[CourtPublic]:
    return service.list_courts(session)


@admin_router.post("/forces", status_code=201, response_model=ForcePublic, summary="Add a force", responses=_ADD)
def add_force(body: ForceCreate, _admin: Administrator, session: DbSession) -> ForcePublic:
    return service.add_force(session, body)


@admin_router.patch(
    "/forces/{code}", response_model=ForcePublic, summary="Change or retire a force", responses=_CHANGE,
    description="A force is retired only once none of its districts is in use." + RETIRE,
)
def change_force(code: Code, body: ForceUpdate, _admin: Administrator, session: DbSession) -> ForcePublic:
    return service.change_force(session, code, body)


@admin_router.post("/courts", status_code=201, response_model=CourtPublic, summary="Add a magistrates' court", responses=_ADD)
def add_court(body: CourtCreate, _admin: Administrator, session: DbSession) -> CourtPublic:
    return service.add_court(session, body)


@admin_router.patch(
    "/courts/{code}", response_model=CourtPublic, summary="Change or retire a magistrates' court", responses=_CHANGE,
    description="A court is retired only once no district in use is heard by it." + RETIRE,
)
def change_court(code: Code, body: CourtUpdate, _admin: Administrator, session: DbSession) -> CourtPublic:
    return service.change_court(session, code, body)


@admin_router.post(
    "/districts", status_code=201, response_model=DistrictPublic, summary="Add a district", responses=_ADD,
    description="Accepted on the next referral; the gateway is told, so that providers can be set to serve it.",
)
def add_district(body: DistrictCreate, _admin: Administrator, session: DbSession) -> DistrictPublic:
    return service.add_district(session, body)


@admin_router.patch(
    "/districts/{code}", response_model=DistrictPublic, summary="Change a district (its court, say) or retire it", responses=_CHANGE,
    description="A new court takes the district's next breach requests; those already raised keep theirs." + RETIRE,
)
def change_district(code: Code, body: DistrictUpdate, _admin: Administrator, session: DbSession) -> DistrictPublic:
    return service.change_district(session, code, body)
