"""`diversion-link subject-access export` and `diversion-link audit search`: what is held, and who did what.

The export is the administrator's API export (each service's privacy/subject_access.py) of both
services, written to a file readable by its owner only, never printed. It is audited in each
service as the operator's, naming the case: an operator's export is a read of personal data.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from diversion_cli.context import Service, audit_tables, audited, database_url, fail

subject_access_app = typer.Typer(help="Subject access requests: everything held about a person, as a file.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of both services: every call and every operator's change.", no_args_is_help=True)


def _engine(service: Service) -> Any:
    from diversion_common.database import make_engine

    return make_engine(database_url(service))


@subject_access_app.command("export")
def subject_access_export(
    case_id: Annotated[uuid.UUID, typer.Argument(help="A case of the person's (find others by name with the API's POST /v1/admin/subject-access)")],
    output: Annotated[Path, typer.Option(help="The file to write (JSON, readable by you only); must not exist")],
    as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON (never the content)")] = False,
) -> None:
    """Write everything both services hold about the person of a case to a JSON file: referral_api's
    cases, log, reads, messages and notifications, and the gateway's copy, routing, deliveries and events."""
    from sqlmodel import Session

    from diversion_common.private_files import write_private_text
    from provider_gateway.privacy import subject_access as gateway_access
    from provider_gateway.privacy.schemas import SubjectAccessRequest as GatewayRequest
    from referral_api.privacy import subject_access as referral_access
    from referral_api.privacy.schemas import SubjectAccessRequest

    if output.exists() or output.is_symlink():
        fail(f"--output {output} exists: give a new file (an export is never written over another)")
    if output.parent.exists() and not output.parent.is_dir():
        fail(f"--output {output}: {output.parent} is not a folder")

    def record_reads(session: Session, cases: list) -> None:
        audited(session, Service.referral_api, "subject-access export", ids={"case_id": case_id}, case_ids=[c.id for c in cases])

    engine = _engine(Service.referral_api)
    try:
        with Session(engine) as session:
            held = referral_access.export(session, SubjectAccessRequest(case_id=case_id), record_reads)
    finally:
        engine.dispose()
    case_ids = [case.id for case in held.cases]
    engine = _engine(Service.provider_gateway)
    try:
        with Session(engine) as session:
            gateway = gateway_access.export(session, GatewayRequest(case_ids=case_ids))
            audited(session, Service.provider_gateway, "subject-access export", ids={"case_id": case_id}, case_ids=[c.case_id for c in gateway.cases])
            session.commit()
    finally:
        engine.dispose()
    document = {"referral_api": held.model_dump(mode="json"), "provider_gateway": gateway.model_dump(mode="json")}
    write_private_text(output, json.dumps(document, indent=2) + "\n")
    summary = {"output": str(output), "cases": [str(c) for c in case_ids], "gateway_cases": len(gateway.cases)}
    if as_json:
        typer.echo(json.dumps(summary))
        return
    typer.echo(f"wrote {output} (readable by you only): {len(case_ids)} case(s) from referral_api, {len(gateway.cases)} from provider_gateway")


def _utc(value: datetime | None, option: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        fail(f"{option} needs a UTC offset, e.g. 2026-12-01T09:00:00+00:00")
    return value


@audit_app.command("search")
def audit_search(
    service: Annotated[Service | None, typer.Option(help="Only this service's log (default: both)")] = None,
    case_id: Annotated[uuid.UUID | None, typer.Option(help="Records that read or changed this case")] = None,
    client_id: Annotated[uuid.UUID | None, typer.Option(help="Records of this API client's calls")] = None,
    actor: Annotated[str | None, typer.Option(help="Records of this actor, e.g. operator:alice, client:<id>, scheduler")] = None,
    status: Annotated[int | None, typer.Option(help="Records answered with this HTTP status (0: an operator's command)")] = None,
    since: Annotated[datetime | None, typer.Option(help="At or after this time (RFC 3339, with an offset)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time (RFC 3339, with an offset)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="At most this many of each service's, oldest first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Search the audit log with the admin API's filters (GET /v1/admin/audit), oldest first."""
    from sqlmodel import Session

    from diversion_common.audit.search import search_audit

    filters = {"case_id": case_id, "client_id": client_id, "actor": actor, "status": status,
               "since": _utc(since, "--since"), "until": _utc(until, "--until")}
    rows: list[dict[str, Any]] = []
    for target in [service] if service else list(Service):
        record_table, case_table = audit_tables(target)
        engine = _engine(target)
        try:
            with Session(engine) as session:
                cursor, left = None, limit
                while left > 0:
                    page = search_audit(session, record_table, case_table, **filters, cursor=cursor, limit=min(100, left))
                    rows += [{"service": target.value, **item.model_dump(mode="json")} for item in page.items]
                    left -= len(page.items)
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
        finally:
            engine.dispose()
    if as_json:
        typer.echo(json.dumps(rows))
        return
    for row in rows:
        cases = f"  cases {','.join(row['case_ids'])}" if row["case_ids"] else ""
        typer.echo(f"{row['at']}  {row['service']:<16} {row['status']:>3} {row['method']:<6} {row['route'] or '-'}  {row['actor'] or '-'}{cases}")
