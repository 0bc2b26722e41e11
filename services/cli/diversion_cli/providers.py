"""`diversion-link providers ...`: the gateway's provider registry, as its admin routes manage it.

The rules are the gateway's (provider_gateway/providers/service.py): adding or changing a
provider routes the cases waiting for one; disabling one takes from it the cases still
waiting for its answer. Each change is audited in its own transaction, naming the operator.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from diversion_cli.context import Service, audited, database_url, fail

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlmodel import Session

providers_app = typer.Typer(help="Treatment providers: register, change, disable, rotate a signing secret.", no_args_is_help=True)

# The request's fields as the options name them, for an error line the operator can act on.
OPTION_OF = {"pathways": "--pathway", "districts": "--district", "delivery_mode": "--delivery-mode", "webhook_url": "--webhook-url",
             "contact_email": "--contact-email", "out_of_hours": "--out-of-hours", "name": "--name", "overlap_hours": "--overlap-hours"}
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


def _request(model: type[BaseModel], values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        fail(f"{OPTION_OF.get(field, field)} {first['msg'].removeprefix('Value error, ')}".strip())


@contextmanager
def _gateway_session() -> Iterator[Session]:
    from sqlmodel import Session

    from diversion_common.database import make_engine

    engine = make_engine(database_url(Service.provider_gateway))
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def _loopback_allowed(url: Any) -> None:
    from diversion_common.webhooks.urls import must_allow_loopback
    from provider_gateway.config import Settings as GatewaySettings

    must_allow_loopback(url, allowed=GatewaySettings().allow_loopback_webhooks, pointer="/webhook_url")


def _print(provider: Any, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    if as_json:
        typer.echo(json.dumps({**provider.model_dump(mode="json"), **(extra or {})}))
        return
    state = "active" if provider.active else "disabled"
    pathways = ",".join(p.value for p in provider.pathways)
    typer.echo(f"{provider.id}  {state:<8} {provider.delivery_mode.value:<7} {pathways}  {len(provider.districts)} districts  {provider.name}")


@providers_app.command("create")
def providers_create(
    name: Annotated[str, typer.Option(help="The provider's name, unique")],
    pathway: Annotated[list[str], typer.Option(help="A pathway it serves: adult_deferred_summons or youth_community_resolution (repeat for both)")],
    district: Annotated[list[str], typer.Option(help="A district it serves, e.g. reading (repeat for each)")],
    contact_email: Annotated[str, typer.Option(help="Where the scheme's administrator reaches it")],
    delivery_mode: Annotated[str, typer.Option(help="pull (it lists its cases) or webhook (we POST them to --webhook-url)")] = "pull",
    webhook_url: Annotated[str | None, typer.Option(help="In webhook mode: https to a public host")] = None,
    out_of_hours: Annotated[bool, typer.Option("--out-of-hours/--office-hours", help="Whether it offers appointments out of hours")] = False,
    as_json: JsonOption = False,
) -> None:
    """Register a provider and print its id and signing secret (shown once); waiting cases are routed to it."""
    from provider_gateway.providers import service
    from provider_gateway.providers.schemas import ProviderCreate

    request = _request(ProviderCreate, {
        "name": name, "pathways": pathway, "districts": district, "contact_email": contact_email,
        "delivery_mode": delivery_mode, "webhook_url": webhook_url, "out_of_hours": out_of_hours,
    })
    _loopback_allowed(request.webhook_url)
    provider_id = uuid.uuid4()
    with _gateway_session() as session:
        audited(session, Service.provider_gateway, "providers create", ids={"provider_id": provider_id})
        provider, secret = service.create_provider(session, request, provider_id=provider_id)
    _print(provider, as_json, {"signing_secret": secret})
    if not as_json:
        typer.echo(f"signing secret (shown once): {secret}")


@providers_app.command("list")
def providers_list(as_json: JsonOption = False) -> None:
    """List the providers, by name (never their secrets)."""
    from provider_gateway.providers import service

    with _gateway_session() as session:
        providers = service.list_providers(session)
    if as_json:
        typer.echo(json.dumps([p.model_dump(mode="json") for p in providers]))
        return
    for provider in providers:
        _print(provider, False)


def _update(provider_id: uuid.UUID, changes: dict[str, Any], command: str, as_json: bool) -> None:
    from provider_gateway.providers import service
    from provider_gateway.providers.schemas import ProviderUpdate

    if not changes:
        fail("nothing to change: give at least one option (see --help)")
    request = _request(ProviderUpdate, changes)
    _loopback_allowed(request.webhook_url)
    with _gateway_session() as session:
        audited(session, Service.provider_gateway, command, ids={"provider_id": provider_id})
        provider = service.update_provider(session, provider_id, request)
    _print(provider, as_json)


@providers_app.command("update")
def providers_update(
    provider_id: uuid.UUID,
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    pathway: Annotated[list[str] | None, typer.Option(help="The pathways it serves, replacing them (repeat for both)")] = None,
    district: Annotated[list[str] | None, typer.Option(help="The districts it serves, replacing them (repeat for each)")] = None,
    contact_email: Annotated[str | None, typer.Option()] = None,
    delivery_mode: Annotated[str | None, typer.Option(help="pull or webhook; undelivered messages follow")] = None,
    webhook_url: Annotated[str | None, typer.Option(help="https to a public host; a changed URL gets no old messages")] = None,
    out_of_hours: Annotated[bool | None, typer.Option("--out-of-hours/--office-hours")] = None,
    active: Annotated[bool | None, typer.Option("--enable/--disable", help="--disable is `providers disable`")] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a provider; only the options given change. Waiting cases are routed again."""
    given = {"name": name, "pathways": pathway, "districts": district, "contact_email": contact_email,
             "delivery_mode": delivery_mode, "webhook_url": webhook_url, "out_of_hours": out_of_hours, "active": active}
    _update(provider_id, {key: value for key, value in given.items() if value is not None}, "providers update", as_json)


@providers_app.command("disable")
def providers_disable(provider_id: uuid.UUID, as_json: JsonOption = False) -> None:
    """Disable a provider: it is routed nothing more, its unanswered cases go to the next eligible
    provider (it is told they were withdrawn), and its key then only reads. Its accepted cases stay."""
    _update(provider_id, {"active": False}, "providers disable", as_json)


@providers_app.command("rotate-secret")
def providers_rotate_secret(
    provider_id: uuid.UUID,
    overlap_hours: Annotated[float, typer.Option(help="How long the secrets in force now stay valid beside the new one (0 to 336)")] = 24.0,
    as_json: JsonOption = False,
) -> None:
    """Issue the provider a new signing secret, printed once; the old one stays valid for the overlap."""
    from datetime import timedelta

    from diversion_common.webhooks.schemas import SecretRotation
    from provider_gateway.providers import service

    rotation = _request(SecretRotation, {"overlap_hours": overlap_hours})
    with _gateway_session() as session:
        audited(session, Service.provider_gateway, "providers rotate-secret", ids={"provider_id": provider_id})
        secret, valid_until = service.rotate_secret(session, provider_id, timedelta(hours=rotation.overlap_hours))
    if as_json:
        typer.echo(json.dumps({"provider_id": str(provider_id), "signing_secret": secret, "previous_valid_until": valid_until.isoformat()}))
        return
    typer.echo(f"signing secret (shown once): {secret}")
    typer.echo(f"the previous secret stays valid until {valid_until.isoformat()}")
