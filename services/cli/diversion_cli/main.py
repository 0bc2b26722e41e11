"""`diversion-link`: what an operator does from the command line.

Each command imports the services' code it needs when it runs, so that ``--help`` and
``--version`` answer at once (nothing of the web or database stacks is loaded for them).
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from diversion_cli import background, privacy
from diversion_cli.backup import backup_command, restore_command
from diversion_cli.deliveries import deliveries_app
from diversion_cli.providers import providers_app
from diversion_cli.records import audit_app, subject_access_app
from diversion_cli.reference import reference_app
from diversion_cli.context import Options, Service, audited, database_url, fail, operator_actor
from diversion_cli.errors import exit_status_of
from diversion_common.roles import Role

app = typer.Typer(
    help="Operate Diversion Link: migrate, back up and restore, manage clients and providers, run the demo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
clients_app = typer.Typer(help="API clients and their keys.", no_args_is_help=True)
app.add_typer(clients_app, name="clients")
callbacks_app = typer.Typer(
    help="Where each recipient's system (a force's, a court's, a YJU's) is told of what concerns it.", no_args_is_help=True
)
app.add_typer(callbacks_app, name="callbacks")
# The name it had when only forces were told; kept so that existing scripts still run.
app.add_typer(callbacks_app, name="police-callbacks", hidden=True)
breaches_app = typer.Typer(help="Breach requests: the time-based rules.", no_args_is_help=True)
app.add_typer(breaches_app, name="breaches")
app.add_typer(privacy.secrets_app, name="secrets")
app.add_typer(privacy.retention_app, name="retention")
app.add_typer(providers_app, name="providers")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(subject_access_app, name="subject-access")
app.add_typer(audit_app, name="audit")
app.add_typer(reference_app, name="reference")
openapi_app = typer.Typer(help="The services' OpenAPI documents.", no_args_is_help=True)
app.add_typer(openapi_app, name="openapi")
app.command("backup")(backup_command)
app.command("restore")(restore_command)


@app.command()
def migrate(service: Annotated[Service | None, typer.Option(help="Only this service")] = None) -> None:
    """Apply the database migrations of both services (or one)."""
    from diversion_common.migrations import upgrade
    from diversion_common.observability import configure_logging
    from referral_api.config import Settings as ReferralSettings

    configure_logging(ReferralSettings().log_level)  # alembic's lines, as JSON on stderr
    for target in [service] if service else list(Service):
        upgrade(target.value, database_url(target))
        typer.echo(f"{target.value}: migrated")


@clients_app.command("create")
def clients_create(
    role: Annotated[Role, typer.Option(help="police, yju, court, provider, admin or service")],
    name: Annotated[str, typer.Option(help="Who the client is, e.g. the force's system")],
    force: Annotated[str | None, typer.Option(help="The force of a police or yju client, e.g. thames-valley")] = None,
    provider_id: Annotated[uuid.UUID | None, typer.Option(help="The provider of a provider client")] = None,
    service: Annotated[Service | None, typer.Option(help="For a service client: the service it calls")] = None,
    court: Annotated[str | None, typer.Option(help="The court of a court client, e.g. reading-magistrates")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a client and print its id and key, once."""
    from diversion_cli.credentials import issue_credential
    from diversion_common.clients import ClientError

    try:
        issued = issue_credential(role, name, force=force, provider_id=provider_id, service=service, court=court)
    except ClientError as error:
        fail(str(error))
    if as_json:
        typer.echo(json.dumps(issued))
    else:
        typer.echo(f"client {issued['client_id']} ({role.value}) created in {issued['services']}")
        typer.echo(f"API key (shown once): {issued['api_key']}")


@clients_app.command("list")
def clients_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List clients of both services (never their keys)."""
    from sqlmodel import Session

    from diversion_cli.credentials import client_table
    from diversion_common import clients as client_registry
    from diversion_common.database import make_engine

    rows = []
    for target in Service:
        engine = make_engine(database_url(target))
        with Session(engine) as session:
            for client in client_registry.list_clients(session, client_table(target)):
                rows.append({
                    "service": target.value, "client_id": str(client.id), "name": client.name, "role": client.role,
                    "force": client.force, "court": client.court, "revoked": client.revoked_at is not None,
                })
        engine.dispose()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        state = "revoked" if row["revoked"] else "active"
        typer.echo(f"{row['client_id']}  {row['service']:<16} {row['role']:<8} {state:<7} {row['name']}")


@clients_app.command("revoke")
def clients_revoke(client_id: uuid.UUID) -> None:
    """Revoke a client's key in every service that knows it."""
    from sqlmodel import Session

    from diversion_cli.credentials import client_table
    from diversion_common import clients as client_registry
    from diversion_common.database import make_engine

    found = False
    for target in Service:
        engine = make_engine(database_url(target))
        with Session(engine) as session:
            audited(session, target, "clients revoke", ids={"client_id": client_id})  # commits only with a revocation
            found |= client_registry.revoke_client(session, client_table(target), client_id)
        engine.dispose()
    if not found:
        fail(f"no such client: {client_id}", 1)
    typer.echo(f"client {client_id} revoked")


def _set_callback(recipient: str, url: str, active: bool, as_json: bool) -> None:
    from pydantic import ValidationError
    from sqlmodel import Session

    from diversion_common.database import make_engine
    from diversion_common.webhooks.urls import LOOPBACK_REFUSED, is_loopback
    from referral_api.config import Settings as ReferralSettings
    from referral_api.callbacks import service as callbacks
    from referral_api.callbacks.schemas import PoliceCallbackSet

    try:
        request = PoliceCallbackSet(url=url, active=active)  # type: ignore[arg-type]
    except ValidationError as error:
        fail(f"--url {error.errors()[0]['msg']}")
    if not ReferralSettings().allow_loopback_webhooks and is_loopback(request.url):
        fail(f"--url {LOOPBACK_REFUSED} (REFERRAL_API_ALLOW_LOOPBACK_WEBHOOKS)")
    engine = make_engine(database_url(Service.referral_api))
    with Session(engine, expire_on_commit=False) as session:
        audited(session, Service.referral_api, "callbacks set", ids={"recipient": recipient})
        callback, secret = callbacks.set_callback(session, recipient, request)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps({**callback.model_dump(mode="json"), "signing_secret": secret}))
        return
    typer.echo(f"{callback.recipient}: {'registered' if secret else 'changed'}, {'active' if callback.active else 'inactive'}, {callback.url}")
    if secret:
        typer.echo(f"signing secret (shown once): {secret}")


URL_HELP = "Where to POST its notifications: https to a public host (this machine only in development)"
ACTIVE_HELP = "--inactive stops notifications; waiting ones are held"


@callbacks_app.command("set")
def callbacks_set(
    url: Annotated[str, typer.Option(help=URL_HELP)],
    force: Annotated[str | None, typer.Option(help="A force's system, e.g. thames-valley")] = None,
    court: Annotated[str | None, typer.Option(help="A court's system, for its breach requests, e.g. reading-magistrates")] = None,
    yju: Annotated[str | None, typer.Option(help="The system of the YJU serving a force's area, for its breach requests")] = None,
    active: Annotated[bool, typer.Option("--active/--inactive", help=ACTIVE_HELP)] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Register or change a callback URL (a force's, a court's or a YJU's); prints its signing secret once, when registered."""
    from referral_api.callbacks.recipients import court_recipient, police_recipient, yju_recipient

    chosen = [r for r in (force and police_recipient(force), court and court_recipient(court), yju and yju_recipient(yju)) if r]
    if len(chosen) != 1:
        fail("give exactly one of --force, --court, --yju")
    _set_callback(chosen[0], url, active, as_json)


@callbacks_app.command("list")
def callbacks_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List the callbacks, the forces' then the courts' and YJUs' (never their secrets)."""
    from sqlmodel import Session

    from diversion_common.database import make_engine
    from referral_api.callbacks import service as callback_service
    from referral_api.callbacks.recipients import RecipientKind, recipient_kind

    engine = make_engine(database_url(Service.referral_api))
    with Session(engine) as session:
        callbacks = [c for kind in RecipientKind for c in callback_service.list_callbacks(session, kind)]
    engine.dispose()
    if as_json:
        typer.echo(json.dumps([{**c.model_dump(mode="json"), "force": c.recipient} if recipient_kind(c.recipient) is RecipientKind.police else c.model_dump(mode="json") for c in callbacks]))
        return
    for callback in callbacks:
        typer.echo(f"{callback.recipient:<32} {'active' if callback.active else 'inactive':<8} {callback.url}")


@breaches_app.command("run-checks")
def breaches_run_checks(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what the checks would record, case by case; record nothing")] = False,
    now: Annotated[datetime | None, typer.Option(help="With --dry-run only: preview as at this time (RFC 3339, with an offset); default: the clock")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Check once every case whose next breach rule is due: reminders, overdue deadlines, late reviews.

    Acts on the real clock only. Safe beside the service's own scheduler and other runs: each
    case is checked by one at a time."""
    if now is not None and not dry_run:
        fail("--now is only for a --dry-run: the checks act on the real clock")
    if now is not None and now.tzinfo is None:
        fail("--now needs a UTC offset, e.g. 2026-12-01T09:00:00+00:00")
    from diversion_common.database import make_engine, utcnow
    from referral_api.breaches.scheduler import preview_checks, run_checks

    engine = make_engine(database_url(Service.referral_api))
    try:
        if dry_run:
            _print_preview(preview_checks(engine, now or utcnow(), operator_actor()), as_json)
            return
        run = run_checks(
            engine, actor=operator_actor(),
            audit=lambda session, case_id: audited(session, Service.referral_api, "breaches run-checks", case_ids=[case_id]),
        )
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps({"due": run.due, "checked": run.checked}))
        return
    typer.echo(f"{run.due} cases due, {run.checked} checked by this run")


def _print_preview(previews: list, as_json: bool) -> None:
    described = [
        {"case_id": str(p.case_id), "would_record": [{"kind": f.kind.value, **_preview_details(f.data)} for f in p.facts]}
        for p in previews
    ]
    if as_json:
        typer.echo(json.dumps({"dry_run": True, "due": len(previews), "cases": described}))
        return
    typer.echo(f"dry run: {len(previews)} cases due; nothing recorded")
    for case in described:
        steps = "; ".join(" ".join([step["kind"], *(f"{k}={v}" for k, v in step.items() if k != "kind")]) for step in case["would_record"])
        typer.echo(f"  {case['case_id']}: {steps or 'nothing'}")


# Enough to say what a step is; never the evidence or attendance it would carry.
PREVIEW_FIELDS = ("rule", "deadline", "due_at", "appointment_id", "breach_request_id", "reason")


def _preview_details(data: dict) -> dict:
    return {key: data[key] for key in PREVIEW_FIELDS if data.get(key) is not None}


@openapi_app.command("export")
def openapi_export(
    output: Annotated[Path, typer.Option(help="The folder to write <service>.json to")] = Path("openapi"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Write each service's OpenAPI document, as the services serve it at /openapi.json (`make openapi`)."""
    from diversion_cli.openapi_export import write

    written = write(output)
    if as_json:
        typer.echo(json.dumps({"written": [str(path) for path in written]}))
        return
    for path in written:
        typer.echo(f"wrote {path}")


@app.command("demo-seed")
def demo_seed(env_file: Annotated[Path, typer.Option(help="Where to write the demo services' environment")] = Path(".run/demo.env")) -> None:
    """Create demo clients and providers, write their credentials and the services' environment (never printed)."""
    from diversion_cli import demo
    from diversion_cli.credentials import issue_credential

    demo.seed(issue_credential, env_file)


@app.command("gateway-worker")
def gateway_worker(heartbeat_file: background.HeartbeatFile = None) -> None:
    """Run a delivery worker process (several may run at once on PostgreSQL)."""
    from diversion_common.database import make_engine
    from diversion_common.observability import configure_logging
    from provider_gateway.config import Settings as GatewaySettings
    from provider_gateway.deliveries.worker import run_forever

    settings = GatewaySettings()
    configure_logging(settings.log_level)
    engine = make_engine(settings.database_url)
    try:
        run_forever(engine, settings.worker_settings(), heartbeat_file)
    finally:
        engine.dispose()


@app.command()
def serve(
    env_file: Annotated[Path | None, typer.Option(help="Environment file for both services")] = None,
    host: str = "127.0.0.1",
    referral_api_port: int = 8000,
    provider_gateway_port: int = 8001,
    referral_api_internal_port: Annotated[int, typer.Option(help="referral_api's internal inbox, on loopback")] = 8010,
    provider_gateway_internal_port: Annotated[int, typer.Option(help="provider_gateway's internal inbox, on loopback")] = 8011,
    workers: Annotated[int, typer.Option(help="Processes per service (more than 1: PostgreSQL only)")] = 1,
) -> None:
    """Run both services until interrupted; each serves its internal inbox on a port of its own."""
    from diversion_cli import runner

    raise typer.Exit(
        runner.serve(
            env_file, host, referral_api_port, provider_gateway_port, referral_api_internal_port, provider_gateway_internal_port,
            workers,
        )
    )


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        typer.echo(f"diversion-link {version('diversion-link')}")
        raise typer.Exit()


@app.callback()
def options(
    operator: Annotated[str | None, typer.Option(help="Who is running the command, recorded on every change it makes; default: the OS user")] = None,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit", callback=_print_version, is_eager=True)] = False,
) -> None:
    """Operate Diversion Link: migrate, manage API clients, run the demo."""
    Options.operator = operator


background.register(app)  # scheduler, heartbeat-check


def main() -> None:
    """The entry point: an expected error is one line on stderr and a non-zero exit."""
    sys.exit(exit_status_of(lambda: app(standalone_mode=False)))


if __name__ == "__main__":
    main()
