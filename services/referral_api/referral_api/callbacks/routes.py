"""The administrator's police callbacks, and the deliveries made to them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import StringConstraints
from sqlmodel import Session

from diversion_common.pagination import CursorQuery
from diversion_common.problems import problem_responses
from diversion_common.reference import REFERENCE_CODE_LENGTH, REFERENCE_CODE_PATTERN
from diversion_common.text_limits import DeliveryId
from diversion_common.webhooks.schemas import RotatedSecret, SecretRotation
from diversion_common.webhooks.tables import DeliveryStatus
from diversion_common.webhooks.urls import must_allow_loopback
from referral_api.auth import Administrator
from referral_api.db import get_session
from referral_api.callbacks import service
from referral_api.callbacks.recipients import RecipientKind, court_recipient, police_recipient, yju_recipient
from referral_api.callbacks.schemas import (
    CallbackDeliveryDetail,
    CallbackDeliveryPage,
    CallbackCreated,
    CallbackDeliveryPublic,
    CallbackPublic,
    PoliceCallbackCreated,
    PoliceCallbackPublic,
    PoliceCallbackSet,
)

callbacks_router = APIRouter(prefix="/v1/admin/police-callbacks", tags=["police callbacks"])
court_callbacks_router = APIRouter(prefix="/v1/admin/court-callbacks", tags=["court and YJU callbacks"])
yju_callbacks_router = APIRouter(prefix="/v1/admin/yju-callbacks", tags=["court and YJU callbacks"])
deliveries_router = APIRouter(prefix="/v1/admin/deliveries", tags=["police callbacks"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]
# A force's or a court's code (reference data: GET /v1/reference/forces, /courts); one not in use is a 404 when set.
ForceCode = Annotated[str, Path(max_length=REFERENCE_CODE_LENGTH, pattern=REFERENCE_CODE_PATTERN)]
CourtCode = ForceCode
Recipient = Annotated[str, StringConstraints(max_length=60, pattern=r"^(court|yju):[a-z-]{1,50}$")]

_SET_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "Changed"},
    201: {
        "description": "Registered, with its signing secret (shown once)",
        "headers": {"Location": {"description": "The callback", "schema": {"type": "string"}}},
    },
    **problem_responses(400, 401, 403, 404, 413, 415, 422),  # 404: no force or court in use by that code
}


def _set(
    recipient: str, body: PoliceCallbackSet, session: Session, request: Request, created_model: type[CallbackCreated], public: Any
) -> Response | CallbackPublic:
    must_allow_loopback(body.url, allowed=request.app.state.settings.allow_loopback_webhooks, pointer="/url")
    callback, secret = service.set_callback(session, recipient, body)
    if secret is None:
        return public(callback)
    created = created_model(**public(callback).model_dump(), signing_secret=secret)
    # The response model would drop the secret: the one answer that carries it is written here.
    return JSONResponse(jsonable_encoder(created), status_code=201, headers={"Location": str(request.url.path)})


def _rotate(recipient: str, body: SecretRotation, session: Session) -> RotatedSecret:
    secret, previous_valid_until = service.rotate_secret(session, recipient, timedelta(hours=body.overlap_hours))
    return RotatedSecret(signing_secret=secret, previous_valid_until=previous_valid_until)


def _police(callback: CallbackPublic) -> PoliceCallbackPublic:
    return PoliceCallbackPublic(**callback.model_dump(), force=callback.recipient)


# --- a force's system: status changes, breach request steps, warnings and reminders ---------


@callbacks_router.put(
    "/{force}",
    response_model=PoliceCallbackPublic,
    summary="Register or change a force's callback URL; on registration its signing secret is shown once",
    responses={**_SET_RESPONSES, 201: {**_SET_RESPONSES[201], "model": PoliceCallbackCreated}},
)
def set_callback(
    force: ForceCode, body: PoliceCallbackSet, _admin: Administrator, session: DbSession, request: Request
) -> Response | CallbackPublic:
    return _set(police_recipient(force), body, session, request, PoliceCallbackCreated, _police)


@callbacks_router.get("", response_model=list[PoliceCallbackPublic], summary="List the forces' callbacks", responses=problem_responses(401, 403))
def list_callbacks(_admin: Administrator, session: DbSession) -> list[PoliceCallbackPublic]:
    return [_police(c) for c in service.list_callbacks(session, RecipientKind.police)]


@callbacks_router.get(
    "/{force}", response_model=PoliceCallbackPublic, summary="Read a force's callback", responses=problem_responses(401, 403, 404, 422)
)
def read_callback(force: ForceCode, _admin: Administrator, session: DbSession) -> PoliceCallbackPublic:
    return _police(service.get_callback(session, police_recipient(force)))


@callbacks_router.post(
    "/{force}/secrets",
    status_code=201,
    response_model=RotatedSecret,
    summary="Rotate the force's signing secret; the old one stays valid for the overlap",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def rotate_secret(force: ForceCode, body: SecretRotation, _admin: Administrator, session: DbSession) -> RotatedSecret:
    return _rotate(police_recipient(force), body, session)


# --- a court's or a YJU's own system: the breach requests addressed to it -----------------


@court_callbacks_router.put(
    "/{court}",
    response_model=CallbackPublic,
    summary="Register or change a court's callback URL for its breach requests; on registration its signing secret is shown once",
    responses={**_SET_RESPONSES, 201: {**_SET_RESPONSES[201], "model": CallbackCreated}},
)
def set_court_callback(
    court: CourtCode, body: PoliceCallbackSet, _admin: Administrator, session: DbSession, request: Request
) -> Response | CallbackPublic:
    return _set(court_recipient(court), body, session, request, CallbackCreated, lambda c: c)


@court_callbacks_router.get("", response_model=list[CallbackPublic], summary="List the courts' callbacks", responses=problem_responses(401, 403))
def list_court_callbacks(_admin: Administrator, session: DbSession) -> list[CallbackPublic]:
    return service.list_callbacks(session, RecipientKind.court)


@court_callbacks_router.get(
    "/{court}", response_model=CallbackPublic, summary="Read a court's callback", responses=problem_responses(401, 403, 404, 422)
)
def read_court_callback(court: CourtCode, _admin: Administrator, session: DbSession) -> CallbackPublic:
    return service.get_callback(session, court_recipient(court))


@court_callbacks_router.post(
    "/{court}/secrets",
    status_code=201,
    response_model=RotatedSecret,
    summary="Rotate the court's signing secret; the old one stays valid for the overlap",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def rotate_court_secret(court: CourtCode, body: SecretRotation, _admin: Administrator, session: DbSession) -> RotatedSecret:
    return _rotate(court_recipient(court), body, session)


@yju_callbacks_router.put(
    "/{force}",
    response_model=CallbackPublic,
    summary="Register or change the callback URL of the YJU serving a force's area; on registration its signing secret is shown once",
    responses={**_SET_RESPONSES, 201: {**_SET_RESPONSES[201], "model": CallbackCreated}},
)
def set_yju_callback(
    force: ForceCode, body: PoliceCallbackSet, _admin: Administrator, session: DbSession, request: Request
) -> Response | CallbackPublic:
    return _set(yju_recipient(force), body, session, request, CallbackCreated, lambda c: c)


@yju_callbacks_router.get("", response_model=list[CallbackPublic], summary="List the YJUs' callbacks", responses=problem_responses(401, 403))
def list_yju_callbacks(_admin: Administrator, session: DbSession) -> list[CallbackPublic]:
    return service.list_callbacks(session, RecipientKind.yju)


@yju_callbacks_router.get(
    "/{force}", response_model=CallbackPublic, summary="Read a YJU's callback", responses=problem_responses(401, 403, 404, 422)
)
def read_yju_callback(force: ForceCode, _admin: Administrator, session: DbSession) -> CallbackPublic:
    return service.get_callback(session, yju_recipient(force))


@yju_callbacks_router.post(
    "/{force}/secrets",
    status_code=201,
    response_model=RotatedSecret,
    summary="Rotate a YJU's signing secret; the old one stays valid for the overlap",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def rotate_yju_secret(force: ForceCode, body: SecretRotation, _admin: Administrator, session: DbSession) -> RotatedSecret:
    return _rotate(yju_recipient(force), body, session)


@deliveries_router.get(
    "", response_model=CallbackDeliveryPage, summary="List notifications to police systems, e.g. the dead ones", responses=problem_responses(401, 403, 422)
)
def list_deliveries(
    _admin: Administrator,
    session: DbSession,
    status: DeliveryStatus | None = None,
    force: Annotated[str | None, Query(max_length=REFERENCE_CODE_LENGTH, pattern=REFERENCE_CODE_PATTERN, description="A force's deliveries")] = None,
    recipient: Annotated[Recipient | None, Query(description="A court's (`court:<court>`) or a YJU's (`yju:<force>`) deliveries")] = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CallbackDeliveryPage:
    return service.list_deliveries(session, status=status, recipient=recipient or force, cursor=cursor, limit=limit)


@deliveries_router.get(
    "/{delivery_id}",
    response_model=CallbackDeliveryDetail,
    summary="A notification with every attempt (time, status, latency, error)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_delivery(delivery_id: DeliveryId, _admin: Administrator, session: DbSession) -> CallbackDeliveryDetail:
    return service.delivery_detail(session, delivery_id)


@deliveries_router.post(
    "/{delivery_id}/redeliver",
    status_code=202,
    response_model=CallbackDeliveryPublic,
    summary="Send a dead or delivered notification again, under the same webhook-id",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def redeliver(delivery_id: DeliveryId, _admin: Administrator, session: DbSession) -> CallbackDeliveryPublic:
    return service.redeliver_by_id(session, delivery_id)
