"""Admin endpoints for the provider registry."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session

from diversion_common.problems import problem_responses
from diversion_common.webhooks.schemas import RotatedSecret, SecretRotation
from diversion_common.webhooks.urls import must_allow_loopback
from provider_gateway.auth import Administrator
from provider_gateway.db import get_session
from provider_gateway.providers import service
from provider_gateway.providers.schemas import (
    ProviderCreate,
    ProviderCreated,
    ProviderPublic,
    ProviderUpdate,
)

router = APIRouter(prefix="/v1/admin/providers", tags=["providers"])
DbSession = Annotated[Session, Depends(get_session, scope="function")]


@router.post(
    "",
    status_code=201,
    response_model=ProviderCreated,
    summary="Register a treatment provider; its signing secret is shown once",
    responses={
        201: {"headers": {"Location": {"description": "The provider", "schema": {"type": "string"}}}},
        **problem_responses(400, 401, 403, 409, 413, 415, 422),
    },
)
def create_provider(body: ProviderCreate, _admin: Administrator, session: DbSession, request: Request, response: Response) -> ProviderCreated:
    must_allow_loopback(body.webhook_url, allowed=request.app.state.settings.allow_loopback_webhooks, pointer="/webhook_url")
    provider, secret = service.create_provider(session, body)
    response.headers["Location"] = f"/v1/admin/providers/{provider.id}"
    return ProviderCreated(**provider.model_dump(), signing_secret=secret)


@router.get("", response_model=list[ProviderPublic], summary="List providers", responses=problem_responses(401, 403))
def list_providers(_admin: Administrator, session: DbSession) -> list[ProviderPublic]:
    return service.list_providers(session)


@router.get("/{provider_id}", response_model=ProviderPublic, summary="Read a provider", responses=problem_responses(401, 403, 404, 422))
def read_provider(provider_id: uuid.UUID, _admin: Administrator, session: DbSession) -> ProviderPublic:
    return service.get_provider(session, provider_id)


@router.patch(
    "/{provider_id}",
    response_model=ProviderPublic,
    summary="Change a provider; `active: false` disables it",
    description=(
        "Disabling a provider routes it nothing more, and sends each of its cases still waiting for its answer "
        "to the next eligible provider (or makes it unroutable); it is told, with a `referral.withdrawn` notice "
        "(`reason: provider_disabled`), of those it already had. The cases it accepted stay with it. Its key "
        "then reads only: its events are refused (403 `provider-disabled`) and it pulls only withdrawal notices."
    ),
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
def update_provider(provider_id: uuid.UUID, body: ProviderUpdate, _admin: Administrator, session: DbSession, request: Request) -> ProviderPublic:
    must_allow_loopback(body.webhook_url, allowed=request.app.state.settings.allow_loopback_webhooks, pointer="/webhook_url")
    return service.update_provider(session, provider_id, body)


@router.post(
    "/{provider_id}/secrets",
    status_code=201,
    response_model=RotatedSecret,
    summary="Rotate the provider's signing secret; the old one stays valid for the overlap",
    responses=problem_responses(400, 401, 403, 404, 413, 415, 422),
)
def rotate_secret(provider_id: uuid.UUID, body: SecretRotation, _admin: Administrator, session: DbSession) -> RotatedSecret:
    secret, previous_valid_until = service.rotate_secret(session, provider_id, timedelta(hours=body.overlap_hours))
    return RotatedSecret(signing_secret=secret, previous_valid_until=previous_valid_until)
