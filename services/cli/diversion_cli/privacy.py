"""`diversion-link secrets ...` and `diversion-link retention ...`: personal data at rest."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from diversion_cli.context import Service, audited, fail

secrets_app = typer.Typer(help="Signing secrets, encrypted at rest with the keys in *_SECRETS_KEYS.", no_args_is_help=True)
retention_app = typer.Typer(help="Erasing the personal data of cases ended longer ago than the retention period.", no_args_is_help=True)


def _services() -> list[tuple[Service, str, str, type]]:
    """Each service: its name, database, keys setting and secrets table."""
    from diversion_common import secrets_at_rest
    from provider_gateway.config import SECRETS_KEYS as GATEWAY_KEYS
    from provider_gateway.config import Settings as GatewaySettings
    from provider_gateway.providers.tables import ProviderSecret
    from referral_api.config import SECRETS_KEYS as REFERRAL_KEYS
    from referral_api.config import Settings as ReferralSettings
    from referral_api.callbacks.tables import CallbackSecret

    referral, gateway = ReferralSettings(), GatewaySettings()
    secrets_at_rest.use_keys(REFERRAL_KEYS, referral.secrets_keys)
    secrets_at_rest.use_keys(GATEWAY_KEYS, gateway.secrets_keys)
    return [
        (Service.referral_api, referral.database_url, REFERRAL_KEYS, CallbackSecret),
        (Service.provider_gateway, gateway.database_url, GATEWAY_KEYS, ProviderSecret),
    ]


@secrets_app.command("new-key")
def new_key() -> None:
    """Print a fresh key, to put first in REFERRAL_API_SECRETS_KEYS or PROVIDER_GATEWAY_SECRETS_KEYS."""
    from diversion_common import secrets_at_rest

    typer.echo(secrets_at_rest.new_key())


@secrets_app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every stored signing secret under the first key of each service's *_SECRETS_KEYS.

    Put the new key first and keep the old one after it; run this; then drop the old key."""
    from sqlmodel import Session

    from diversion_common import secrets_at_rest
    from diversion_common.database import make_engine

    try:
        for service, url, variable, table in _services():
            engine = make_engine(url)
            try:
                with Session(engine) as session:  # all of a service's, or none, with its audit row
                    count = secrets_at_rest.rotate_stored(session.connection(), table.__tablename__, variable)
                    if count:
                        audited(session, service, "secrets rotate-key", ids={"secrets": count})
                    session.commit()
            finally:
                engine.dispose()
            typer.echo(f"{service.value}: {count} signing secret(s) re-encrypted under the first key of {variable}")
    except secrets_at_rest.SecretsKeyError as error:
        fail(str(error))


@retention_app.command("purge")
def retention_purge(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what would be erased; change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Erase the personal data of cases ended longer ago than each service's *_RETENTION_DAYS,
    leaving a content-free record of each. Each service also runs this daily by itself
    (*_RUN_RETENTION_SCHEDULER, at *_RETENTION_HOUR_UTC)."""
    _purge(dry_run, as_json, "retention purge")


# Its first name, kept so that existing scripts still run (audited as what was typed).
@retention_app.command("run", hidden=True)
def retention_run(
    dry_run: Annotated[bool, typer.Option("--dry-run")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The same as `retention purge`."""
    _purge(dry_run, as_json, "retention run")


def _purge(dry_run: bool, as_json: bool, command: str) -> None:
    from sqlmodel import Session

    from diversion_cli.progress import progress_bar
    from diversion_common.database import make_engine, utcnow
    from provider_gateway.config import Settings as GatewaySettings
    from provider_gateway.privacy import retention as gateway_retention
    from referral_api.config import Settings as ReferralSettings
    from referral_api.privacy import retention as referral_retention

    now = utcnow()
    referral, gateway = ReferralSettings(), GatewaySettings()
    runs = []
    with progress_bar() as progress:
        for service, url, days, job in (
            (Service.referral_api, referral.database_url, referral.retention_days, referral_retention.run_retention),
            (Service.provider_gateway, gateway.database_url, gateway.retention_days, gateway_retention.run_retention),
        ):
            engine = make_engine(url)
            try:
                due = job(engine, retention_days=days, now=now, dry_run=True).cases
                task = progress.add_task(f"{service.value}: erasing", total=due, visible=not dry_run)

                def audit(session: Session, case_ids: list, service: Service = service, task: int = task) -> None:
                    audited(session, service, command, case_ids=case_ids)
                    progress.advance(task, len(case_ids))

                run = job(engine, retention_days=days, now=now, dry_run=dry_run, audit=audit)
            finally:
                engine.dispose()
            runs.append({"service": service.value, "retention_days": days, "ended_before": run.cutoff.isoformat(), "cases": run.cases, "dry_run": dry_run})
    if as_json:
        typer.echo(json.dumps(runs))
        return
    for run in runs:
        verb = "would be erased (dry run)" if dry_run else "erased"
        typer.echo(f"{run['service']}: {run['cases']} case(s) ended before {run['ended_before']} {verb}")
