"""Deliveries: the admin's view and redelivery; pull mode for providers without a server."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from diversion_common.pagination import CursorQuery
from diversion_common.audit.context import touched
from diversion_common.audit.recording import rides_on
from diversion_common.problems import problem_responses
from diversion_common.text_limits import DeliveryId
from provider_gateway.auth import Administrator, ProviderSystem
from provider_gateway.db import get_session
from provider_gateway.deliveries import service
from provider_gateway.deliveries.schemas import DeliveryDetail, DeliveryPage, DeliveryPublic, PulledReferrals
from provider_gateway.deliveries.tables import DeliveryStatus

admin_router = APIRouter(prefix="/v1/admin/deliveries", tags=["deliveries"])
provider_router = APIRouter(prefix="/v1/provider/referrals", tags=["provider"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]



@admin_router.get("", response_model=DeliveryPage, summary="List deliveries, e.g. the dead ones", responses=problem_responses(401, 403, 422))
def list_deliveries(
    _admin: Administrator,
    session: DbSession,
    status: DeliveryStatus | None = None,
    provider_id: uuid.UUID | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> DeliveryPage:
    return service.list_deliveries(session, status=status, provider_id=provider_id, cursor=cursor, limit=limit)


@admin_router.get(
    "/{delivery_id}",
    response_model=DeliveryDetail,
    summary="A delivery with every attempt (time, status, latency, error)",
    responses=problem_responses(401, 403, 404, 422),
)
def read_delivery(delivery_id: DeliveryId, _admin: Administrator, session: DbSession) -> DeliveryDetail:
    return service.delivery_detail(session, delivery_id)


@admin_router.post(
    "/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryPublic,
    summary="Send a dead or delivered message again, under the same webhook-id",
    responses=problem_responses(401, 403, 404, 409, 422),
)
def redeliver(delivery_id: DeliveryId, _admin: Administrator, session: DbSession) -> DeliveryPublic:
    return service.redeliver_by_id(session, delivery_id)


@provider_router.get(
    "",
    response_model=PulledReferrals,
    summary="Pull mode: referrals routed to you that you have not acknowledged",
    responses=problem_responses(401, 403, 422),
)
def pull_referrals(
    provider: ProviderSystem, session: DbSession, limit: Annotated[int, Query(ge=1, le=100)] = 50
) -> PulledReferrals:
    assert provider.provider_id is not None
    pulled = service.pulled_for(session, provider.provider_id, limit)
    touched(item.case_id for item in pulled.items)
    # The call's audit record, naming each case, commits with the read: one turn at the writer, not two.
    rides_on(session)
    session.commit()
    return pulled


@provider_router.post(
    "/{case_id}/acknowledge",
    response_model=DeliveryPublic,
    summary="Pull mode: confirm you have the referral, so it is not listed again",
    responses=problem_responses(401, 403, 404, 422),
)
def acknowledge(case_id: uuid.UUID, provider: ProviderSystem, session: DbSession) -> DeliveryPublic:
    assert provider.provider_id is not None
    return service.acknowledge(session, provider.provider_id, case_id)
