"""Admin endpoints for the provider registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common.problems import FieldError, problem_responses
from provider_gateway.auth import Administrator
from provider_gateway.db import get_session
from provider_gateway.errors import ProviderNameTaken
from provider_gateway.providers import service
from provider_gateway.providers.schemas import ProviderCreate, ProviderPublic, ProviderUpdate

router = APIRouter(prefix="/v1/admin/providers", tags=["providers"])
DbSession = Annotated[Session, Depends(get_session)]


@router.post(
    "",
    status_code=201,
    response_model=ProviderPublic,
    summary="Register a treatment provider",
    responses={
        201: {"headers": {"Location": {"description": "The provider", "schema": {"type": "string"}}}},
        **problem_responses(400, 401, 403, 409, 413, 415, 422),
    },
)
def create_provider(body: ProviderCreate, _admin: Administrator, session: DbSession, response: Response) -> ProviderPublic:
    with _name_taken_is_a_conflict(session):
        provider = service.create_provider(session, body)
    response.headers["Location"] = f"/v1/admin/providers/{provider.id}"
    return provider


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
    responses=problem_responses(400, 401, 403, 404, 409, 413, 415, 422),
)
def update_provider(provider_id: uuid.UUID, body: ProviderUpdate, _admin: Administrator, session: DbSession) -> ProviderPublic:
    with _name_taken_is_a_conflict(session):
        return service.update_provider(session, provider_id, body)


@contextmanager
def _name_taken_is_a_conflict(session: Session) -> Iterator[None]:
    # The service flushes the provider before it commits, so a taken name (the table's
    # only unique column) can fail the flush, where the service's own commit guard does not see it.
    try:
        yield
    except IntegrityError:
        session.rollback()
        raise ProviderNameTaken(errors=[FieldError(pointer="/name", detail="is already taken")]) from None
