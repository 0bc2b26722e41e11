"""Managing the provider registry. Adding or changing a provider routes waiting cases;
disabling one takes from it the cases still waiting for its answer (routing/disabling.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from diversion_common.database import as_utc, utcnow
from diversion_common.problems import FieldError, NotFound, ValidationFailed
from provider_gateway.errors import ProviderNameTaken
from provider_gateway.providers.schemas import DeliveryMode, ProviderCreate, ProviderPublic, ProviderUpdate
from provider_gateway.providers.secrets import issue_secret
from provider_gateway.providers.tables import Provider
from provider_gateway.reference.service import must_be_in_use
from provider_gateway.deliveries.service import switch_delivery_mode
from provider_gateway.routing.disabling import take_cases_from_disabled
from provider_gateway.routing.service import hold_routing_lock, route_waiting_cases


def to_public(provider: Provider) -> ProviderPublic:
    fields = {name: getattr(provider, name) for name in ProviderPublic.model_fields}
    fields["created_at"] = as_utc(provider.created_at)
    fields["updated_at"] = as_utc(provider.updated_at)
    return ProviderPublic.model_validate(fields)


@contextmanager
def _name_must_be_free(session: Session) -> Iterator[None]:
    # The name is the table's only unique column; a flush or the commit may find it taken.
    try:
        yield
    except IntegrityError:
        session.rollback()
        raise ProviderNameTaken(errors=[FieldError(pointer="/name", detail="is already taken")]) from None


def create_provider(session: Session, request: ProviderCreate, provider_id: uuid.UUID | None = None) -> tuple[ProviderPublic, str]:
    """Register a provider; returns it with its first signing secret, shown this once.

    ``provider_id``: its id chosen beforehand (the CLI's audit row, written in this transaction, names it)."""
    must_be_in_use(session, request.districts)
    provider = Provider(
        id=provider_id or uuid.uuid4(),
        name=request.name,
        pathways=[p.value for p in request.pathways],
        districts=sorted(set(request.districts)),
        out_of_hours=request.out_of_hours,
        delivery_mode=request.delivery_mode.value,
        webhook_url=str(request.webhook_url) if request.webhook_url else None,
        contact_email=str(request.contact_email),
    )
    with _name_must_be_free(session):
        hold_routing_lock(session)
        session.add(provider)
        session.flush()
        secret = issue_secret(session, provider.id).secret
        route_waiting_cases(session)
        session.commit()
    return to_public(provider), secret


def rotate_secret(session: Session, provider_id: uuid.UUID, overlap: timedelta) -> tuple[str, datetime]:
    """A new signing secret; the old ones stay valid until the returned time."""
    _get(session, provider_id)
    secret = issue_secret(session, provider_id, overlap=overlap).secret
    session.commit()
    return secret, utcnow() + overlap


def _get(session: Session, provider_id: uuid.UUID) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFound("no such provider")
    return provider


def get_provider(session: Session, provider_id: uuid.UUID) -> ProviderPublic:
    return to_public(_get(session, provider_id))


def list_providers(session: Session) -> list[ProviderPublic]:
    return [to_public(p) for p in session.scalars(select(Provider).order_by(Provider.name))]  # type: ignore[arg-type]


def update_provider(session: Session, provider_id: uuid.UUID, request: ProviderUpdate) -> ProviderPublic:
    hold_routing_lock(session)
    provider = _get(session, provider_id)
    was_active = provider.active
    changes = request.model_dump(exclude_unset=True, mode="json")
    if "districts" in changes and changes["districts"] is not None:
        must_be_in_use(session, changes["districts"])
        changes["districts"] = sorted(set(changes["districts"]))
    for field, value in changes.items():
        if value is None and field != "webhook_url":
            raise ValidationFailed(errors=[FieldError(pointer=f"/{field}", detail="may not be null")])
        setattr(provider, field, value)
    if provider.delivery_mode == DeliveryMode.webhook.value and not provider.webhook_url:
        raise ValidationFailed(errors=[FieldError(pointer="/webhook_url", detail="is required in webhook mode")])
    provider.updated_at = utcnow()
    # Inside the guard: switching the mode runs a statement, whose autoflush writes the new name.
    with _name_must_be_free(session):
        session.add(provider)
        session.flush()
        if "delivery_mode" in changes:
            switch_delivery_mode(session, provider.id, pull=provider.delivery_mode == DeliveryMode.pull.value)
        if was_active and not provider.active:
            take_cases_from_disabled(session, provider)
        route_waiting_cases(session)
        session.commit()
    return to_public(provider)
