"""The administrator's police callbacks, and the deliveries made to them."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlmodel import Session

from diversion_common.pagination import Cursor
from diversion_common.problems import problem_responses
from diversion_common.reference import ForceCode
from diversion_common.text_limits import DeliveryId
from diversion_common.webhooks.schemas import RotatedSecret, SecretRotation
from diversion_common.webhooks.tables import DeliveryStatus
from diversion_common.webhooks.urls import must_allow_loopback
from referral_api.auth import Administrator
from referral_api.db import get_session
from referral_api.police_callbacks import service
from referral_api.police_callbacks.schemas import (
    CallbackDeliveryDetail,
    CallbackDeliveryPage,
    CallbackDeliveryPublic,
    PoliceCallbackCreated,
    PoliceCallbackPublic,
    PoliceCallbackSet,
)

callbacks_router = APIRouter(prefix="/v1/admin/police-callbacks", tags=["police callbacks"])
deliveries_router = APIRouter(prefix="/v1/admin/deliveries", tags=["police callbacks"])
DbSession = Annotated[Session, Depends(get_session)]


@callbacks_router.put(
    "/{force}",
    response_model=PoliceCallbackPublic,
    summary="Register or change a force's callback URL; on registration its signing secret is shown once",
    responses={
        200: {"description": "Changed"},
        201: {
            "description": "Registered, with its signing secret (shown once)",
            "model": PoliceCallbackCreated,
            "headers": {"Location": {"description": "The callback", "schema": {"type": "string"}}},
        },
        **problem_responses(400, 401, 403, 413, 415, 422),
    },
)
def set_callback(
    force: ForceCode, body: PoliceCallbackSet, _admin: Administrator, session: DbSession, request: Request
) -> Response | PoliceCallbackPublic:
    must_allow_loopback(body.url, allowed=request.app.state.settings.allow_loopback_webhooks, pointer="/url")
    callback, secret = service.set_callback(session, force, body)
    if secret is None:
        return callback
    created = PoliceCallbackCreated(**callback.model_dump(), signing_secret=secret)
    # The response model would drop the secret: the one answer that carries it is written here.
    return JSONResponse(
        jsonable_encoder(created), status_code=201, headers={"Location": f"/v1/admin/police-callbacks/{force.value}"}
    )


@callbacks_router.get("", response_model=list[PoliceCallbackPublic], summary="List the forces' callbacks", responses=problem_responses(401, 403))
def list_callbacks(_admin: Administrator, session: DbSession) -> list[PoliceCallbackPublic]:
    return service.list_callbacks(session)


@callbacks_router.get(
    "/{force}", response_model=PoliceCallbackPublic, summary="Read a force's callback", responses=problem_responses(401, 403, 404, 422)
)
def read_callback(force: ForceCode, _admin: Administrator, session: DbSession) -> PoliceCallbackPublic:
    return service.get_callback(session, force)


@callbacks_router.post(
    "/{force}/secrets",
    status_code=201,
    response_model=RotatedSecret,
    summary="Rotate the force's signing secret; the old one stays valid for the overlap",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def rotate_secret(force: ForceCode, body: SecretRotation, _admin: Administrator, session: DbSession) -> RotatedSecret:
    secret, previous_valid_until = service.rotate_secret(session, force, timedelta(hours=body.overlap_hours))
    return RotatedSecret(signing_secret=secret, previous_valid_until=previous_valid_until)


@deliveries_router.get(
    "", response_model=CallbackDeliveryPage, summary="List notifications to police systems, e.g. the dead ones", responses=problem_responses(401, 403, 422)
)
def list_deliveries(
    _admin: Administrator,
    session: DbSession,
    status: DeliveryStatus | None = None,
    force: ForceCode | None = None,
    cursor: Annotated[Cursor | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CallbackDeliveryPage:
    return service.list_deliveries(session, status=status, force=force, cursor=cursor, limit=limit)


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
