"""`diversion-link reference ...`: the forces, districts and courts, as referral_api's admin routes
manage them (referral_api/reference/service.py: a district in use has a force and a court in use;
a district's change is sent on to the gateway). Each change is audited, naming the operator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from diversion_cli.context import Service, audited, database_url, fail

if TYPE_CHECKING:
    from pydantic import BaseModel
    from sqlmodel import Session

reference_app = typer.Typer(help="Reference data: the forces, their districts and the magistrates' courts.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


class Kind(StrEnum):
    forces = "forces"
    districts = "districts"
    courts = "courts"


@contextmanager
def _session() -> Iterator[Session]:
    from sqlmodel import Session

    from diversion_common.database import make_engine

    engine = make_engine(database_url(Service.referral_api))
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield session
    finally:
        engine.dispose()


def _request(model: type[BaseModel], values: dict[str, Any]) -> Any:
    from pydantic import ValidationError

    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        option = f"--{str(first['loc'][0]).replace('_', '-')}" if first["loc"] else ""
        fail(f"{'CODE' if option == '--code' else option} {first['msg'].removeprefix('Value error, ')}".strip())


def _line(row: Any) -> str:
    state = "retired" if row.retired else "in use"
    where = f"  {row.force:<14} {row.court:<26} {row.population:>8,}" if hasattr(row, "court") else ""
    return f"{row.code:<26} {state:<8}{where}  {row.name}"


def _print(row: Any, as_json: bool) -> None:
    typer.echo(json.dumps(row.model_dump(mode="json")) if as_json else _line(row))


def _change(command: str, code: str, write: Callable[[Session], Any]) -> Any:
    """``write``'s answer, its change made in one transaction with the command's audit row."""
    with _session() as session:
        audited(session, Service.referral_api, f"reference {command}", ids={"code": code})  # commits with the change
        return write(session)


@reference_app.command("list")
def reference_list(kind: Annotated[Kind, typer.Argument(help="forces, districts or courts")] = Kind.districts, as_json: JsonOption = False) -> None:
    """List the forces, the districts (with their force, court and population) or the courts, retired ones included."""
    from referral_api.reference import service

    lister = {Kind.forces: service.list_forces, Kind.districts: service.list_districts, Kind.courts: service.list_courts}[kind]
    with _session() as session:
        rows = lister(session)
    typer.echo(json.dumps([row.model_dump(mode="json") for row in rows]) if as_json else "\n".join(_line(row) for row in rows))


@reference_app.command("add-force")
def reference_add_force(code: str, name: Annotated[str, typer.Option(help="e.g. Thames Valley Police")], as_json: JsonOption = False) -> None:
    """Add a police force (its districts are then added with add-district)."""
    from referral_api.reference import service
    from referral_api.reference.schemas import ForceCreate

    request = _request(ForceCreate, {"code": code, "name": name})
    _print(_change("add-force", code, lambda session: service.add_force(session, request)), as_json)


@reference_app.command("add-court")
def reference_add_court(code: str, name: Annotated[str, typer.Option(help="e.g. Reading Magistrates' Court")], as_json: JsonOption = False) -> None:
    """Add a magistrates' court (districts are then set to it with set-district --court)."""
    from referral_api.reference import service
    from referral_api.reference.schemas import CourtCreate

    request = _request(CourtCreate, {"code": code, "name": name})
    _print(_change("add-court", code, lambda session: service.add_court(session, request)), as_json)


@reference_app.command("add-district")
def reference_add_district(
    code: str,
    name: Annotated[str, typer.Option(help="e.g. West Berkshire")],
    force: Annotated[str, typer.Option(help="Its force's code, e.g. thames-valley")],
    court: Annotated[str, typer.Option(help="The court that hears its adults, e.g. reading-magistrates")],
    population: Annotated[int, typer.Option(help="For rates per 1,000 people in reports")],
    as_json: JsonOption = False,
) -> None:
    """Add a district: accepted on the next referral; the gateway is told, so providers can serve it."""
    from referral_api.reference import service
    from referral_api.reference.schemas import DistrictCreate

    request = _request(DistrictCreate, {"code": code, "name": name, "force": force, "court": court, "population": population})
    _print(_change("add-district", code, lambda session: service.add_district(session, request)), as_json)


@reference_app.command("set-district")
def reference_set_district(
    code: str,
    name: Annotated[str | None, typer.Option()] = None,
    force: Annotated[str | None, typer.Option(help="Another force's code")] = None,
    court: Annotated[str | None, typer.Option(help="The court its adults' next breach requests go to")] = None,
    population: Annotated[int | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a district; only the options given change."""
    from referral_api.reference import service
    from referral_api.reference.schemas import DistrictUpdate

    changes = {key: value for key, value in {"name": name, "force": force, "court": court, "population": population}.items() if value is not None}
    if not changes:
        fail("nothing to change: give at least one option (see --help)")
    request = _request(DistrictUpdate, changes)
    _print(_change("set-district", code, lambda session: service.change_district(session, code, request)), as_json)


@reference_app.command("set-force")
def reference_set_force(code: str, name: Annotated[str, typer.Option()], as_json: JsonOption = False) -> None:
    """Rename a force."""
    from referral_api.reference import service
    from referral_api.reference.schemas import ForceUpdate

    request = _request(ForceUpdate, {"name": name})
    _print(_change("set-force", code, lambda session: service.change_force(session, code, request)), as_json)


@reference_app.command("set-court")
def reference_set_court(code: str, name: Annotated[str, typer.Option()], as_json: JsonOption = False) -> None:
    """Rename a magistrates' court (to move a district to another court: set-district --court)."""
    from referral_api.reference import service
    from referral_api.reference.schemas import CourtUpdate

    request = _request(CourtUpdate, {"name": name})
    _print(_change("set-court", code, lambda session: service.change_court(session, code, request)), as_json)


def _retire(kind: Kind, code: str, retired: bool, as_json: bool) -> None:
    from referral_api.reference import service
    from referral_api.reference.schemas import CourtUpdate, DistrictUpdate, ForceUpdate

    command = "retire" if retired else "reinstate"
    change = {
        Kind.forces: lambda session: service.change_force(session, code, ForceUpdate(retired=retired)),
        Kind.courts: lambda session: service.change_court(session, code, CourtUpdate(retired=retired)),
        Kind.districts: lambda session: service.change_district(session, code, DistrictUpdate(retired=retired)),
    }[kind]
    _print(_change(f"{command} {kind.value}", code, change), as_json)


@reference_app.command("retire")
def reference_retire(kind: Kind, code: str, as_json: JsonOption = False) -> None:
    """Retire a force, district or court: refused on new referrals and assignments, kept on what names it.
    A force or a court only once no district in use names it."""
    _retire(kind, code, True, as_json)


@reference_app.command("reinstate")
def reference_reinstate(kind: Kind, code: str, as_json: JsonOption = False) -> None:
    """Put a retired force, district or court back in use."""
    _retire(kind, code, False, as_json)
