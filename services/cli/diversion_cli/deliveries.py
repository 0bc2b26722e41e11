"""`diversion-link deliveries ...`: the webhooks both services send, as their admin routes show them.

The gateway's go to providers (keyed by provider id), referral_api's to police, court and YJU
systems (keyed by recipient). Redelivery follows each service's rules (deliveries/service.py,
callbacks/service.py): a dead or delivered message is sent again under the same webhook-id, never
to a provider the case has left nor to a changed URL. Each redelivery is audited in its own
transaction, naming the operator and the case.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from diversion_cli.context import Service, audited, database_url, fail

deliveries_app = typer.Typer(help="Webhook deliveries to providers (gateway) and to police, court and YJU systems (referral_api).", no_args_is_help=True)

PAGE = 100  # the services' own page size limit


@dataclass(frozen=True)
class Deliveries:
    """One service's deliveries: its table, its list and redeliver functions, the status values it has."""

    service: Service
    table: type
    service_module: Any
    statuses: type


def _of(service: Service) -> Deliveries:
    if service is Service.provider_gateway:
        from provider_gateway.deliveries import service as gateway_deliveries
        from provider_gateway.deliveries.tables import Delivery, DeliveryStatus

        return Deliveries(service, Delivery, gateway_deliveries, DeliveryStatus)
    from diversion_common.webhooks.tables import DeliveryStatus as CallbackStatus
    from referral_api.callbacks import service as callback_deliveries
    from referral_api.callbacks.tables import CallbackDelivery

    return Deliveries(service, CallbackDelivery, callback_deliveries, CallbackStatus)


def _engine(service: Service) -> Any:
    from diversion_common.database import make_engine

    return make_engine(database_url(service))


def _page(kind: Deliveries, session: Any, status: str | None, endpoint: str | None, cursor: str | None, limit: int) -> Any:
    state = kind.statuses(status) if status else None
    if kind.service is Service.provider_gateway:
        return kind.service_module.list_deliveries(session, status=state, provider_id=uuid.UUID(endpoint) if endpoint else None, cursor=cursor, limit=limit)
    return kind.service_module.list_deliveries(session, status=state, recipient=endpoint, cursor=cursor, limit=limit)


def _listed(kind: Deliveries, status: str | None, endpoint: str | None, limit: int) -> Iterator[Any]:
    """Up to ``limit`` deliveries, oldest first, a page at a time."""
    from sqlmodel import Session

    engine = _engine(kind.service)
    try:
        with Session(engine) as session:
            cursor, left = None, limit
            while left > 0:
                page = _page(kind, session, status, endpoint, cursor, min(PAGE, left))
                yield from page.items
                left -= len(page.items)
                if page.next_cursor is None:
                    return
                cursor = page.next_cursor
    finally:
        engine.dispose()


def _services(service: Service | None, status: str | None) -> list[Deliveries]:
    kinds = [_of(s) for s in ([service] if service else list(Service))]
    if status is not None:
        known = {value for kind in kinds for value in (state.value for state in kind.statuses)}
        if status not in known:
            fail(f"--status must be one of: {', '.join(sorted(known))}")
        kinds = [kind for kind in kinds if status in {state.value for state in kind.statuses}]
    return kinds


def _endpoint(service: Service | None, provider_id: uuid.UUID | None, recipient: str | None) -> tuple[Service | None, str | None]:
    if provider_id and recipient:
        fail("give --provider-id (the gateway's) or --recipient (referral_api's), not both")
    if provider_id:
        if service is Service.referral_api:
            fail("--provider-id is the gateway's: referral_api's deliveries go to a --recipient")
        return Service.provider_gateway, str(provider_id)
    if recipient:
        if service is Service.provider_gateway:
            fail("--recipient is referral_api's: the gateway's deliveries go to a --provider-id")
        return Service.referral_api, recipient
    return service, None


def _row(kind: Deliveries, delivery: Any) -> dict[str, Any]:
    return {"service": kind.service.value, **delivery.model_dump(mode="json")}


ServiceOption = Annotated[Service | None, typer.Option(help="Only this service's deliveries (default: both)")]
StatusHelp = "pending, delivered or dead (both); awaiting_pull, acknowledged or cancelled (the gateway's)"


@deliveries_app.command("list")
def deliveries_list(
    service: ServiceOption = None,
    status: Annotated[str | None, typer.Option(help=StatusHelp)] = None,
    provider_id: Annotated[uuid.UUID | None, typer.Option(help="Only those to this provider (the gateway's)")] = None,
    recipient: Annotated[str | None, typer.Option(help="Only those to this recipient (referral_api's): a force, court:<court> or yju:<force>")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many of each service's, oldest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List deliveries, oldest first, e.g. `--status dead`."""
    service, endpoint = _endpoint(service, provider_id, recipient)
    rows = [_row(kind, d) for kind in _services(service, status) for d in _listed(kind, status, endpoint, limit)]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        to = row.get("provider_id") or row.get("recipient")
        error = f"  {row['last_error']}" if row.get("last_error") else ""
        typer.echo(f"{row['id']}  {row['service']:<16} {row['status']:<13} {row['attempts']:>3} tries  {row['event_type']:<28} {to}{error}")


def _find(delivery_id: str, service: Service | None) -> Deliveries:
    from sqlmodel import Session

    for kind in [_of(s) for s in ([service] if service else list(Service))]:
        engine = _engine(kind.service)
        try:
            with Session(engine) as session:
                if session.get(kind.table, delivery_id) is not None:
                    return kind
        finally:
            engine.dispose()
    fail(f"no such delivery: {delivery_id}", 1)


def _redeliver(kind: Deliveries, delivery_id: str) -> dict[str, Any]:
    """One redelivery in its own transaction, with its audit row; the service's refusal is raised."""
    from sqlmodel import Session

    from diversion_common.webhooks import service as webhooks

    engine = _engine(kind.service)
    try:
        with Session(engine, expire_on_commit=False) as session:
            delivery = webhooks.get_delivery(session, kind.table, delivery_id)
            audited(session, kind.service, "deliveries redeliver", ids={"delivery_id": delivery_id}, case_ids=[delivery.case_id])
            return _row(kind, kind.service_module.redeliver_by_id(session, delivery_id))
    finally:
        engine.dispose()


@deliveries_app.command("redeliver")
def deliveries_redeliver(
    delivery_ids: Annotated[list[str] | None, typer.Argument(help="The deliveries (webhook-ids, msg_...) to send again")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Every dead delivery (of --service, --provider-id or --recipient if given)")] = False,
    service: ServiceOption = None,
    provider_id: Annotated[uuid.UUID | None, typer.Option(help="With --dead: only those to this provider")] = None,
    recipient: Annotated[str | None, typer.Option(help="With --dead: only those to this recipient")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Send deliveries again under the same webhook-id: those named, or every dead one (--dead).

    Each is redelivered or refused on its own (e.g. the case has left the provider); the
    command exits 1 if any was refused."""
    from diversion_cli.errors import expected_error
    from diversion_cli.progress import progress_bar

    if bool(delivery_ids) == dead:
        fail("give delivery ids, or --dead, not both")
    if delivery_ids and (provider_id or recipient):
        fail("--provider-id and --recipient only narrow --dead")
    if dead:
        service, endpoint = _endpoint(service, provider_id, recipient)
        todo = [(kind, d.id) for kind in _services(service, "dead") for d in _listed(kind, "dead", endpoint, 1_000_000)]
    else:
        todo = [(_find(delivery_id, service), delivery_id) for delivery_id in dict.fromkeys(delivery_ids or [])]
    results: list[dict[str, Any]] = []
    with progress_bar() as progress:
        task = progress.add_task("redelivering", total=len(todo))
        for kind, delivery_id in todo:
            try:
                results.append({**_redeliver(kind, delivery_id), "redelivered": True})
            except Exception as error:
                said = expected_error(error)
                if said is None:
                    raise
                if len(todo) == 1:
                    fail(f"{delivery_id}: {said[0]}", said[1])
                results.append({"service": kind.service.value, "id": delivery_id, "redelivered": False, "refused": said[0]})
            progress.advance(task)
    refused = [r for r in results if not r["redelivered"]]
    if as_json:
        typer.echo(json.dumps(results))
    else:
        for result in results:
            typer.echo(f"{result['id']}  {result['service']:<16} {'redelivered' if result['redelivered'] else 'refused: ' + result['refused']}")
        typer.echo(f"{len(results) - len(refused)} redelivered, {len(refused)} refused")
    if refused:
        raise typer.Exit(1)
