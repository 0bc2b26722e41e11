"""`diversion-link backup` and `diversion-link restore`: both services' databases, with the tools made for it.

PostgreSQL: ``pg_dump -Fc`` (a consistent snapshot while the services run) and ``pg_restore``, from
Debian's ``postgresql-client`` (its major version at least the server's). SQLite: the online
backup API (``sqlite3.Connection.backup``), a consistent copy while the services write.

A backup is a folder, readable by its owner only (it holds personal data): one file per
database and ``manifest.json`` saying which service each file is, of what kind, at which
migration. Services sharing one database (one URL) share one file. A restore goes into an
empty database only (create it first); it never writes over data. The password of a
PostgreSQL URL goes to the tools in their environment (PGPASSWORD), never on a command line.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from diversion_cli.context import Service, database_url, fail

MANIFEST = "manifest.json"
FORMAT = 1  # the manifest's layout
SQLITE_PAGES_PER_STEP = 256  # a step of the online backup: writers wait at most this long


@dataclass(frozen=True)
class Database:
    """A database some of the services use (one URL)."""

    url: str
    services: tuple[Service, ...]

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    @property
    def file_name(self) -> str:
        return "+".join(s.value for s in self.services) + (".sqlite3" if self.kind == "sqlite" else ".pgdump")


def _databases(only: Service | None) -> list[Database]:
    by_url: dict[str, list[Service]] = {}
    for service in Service:
        by_url.setdefault(database_url(service), []).append(service)
    return [Database(url, tuple(services)) for url, services in by_url.items() if only is None or only in services]


def _sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        fail(f"cannot back up an in-memory SQLite database ({url})")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL for pg_dump/pg_restore (libpq's form, no password) and their environment (the password)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    environment = {**os.environ}
    if parsed.password is not None:
        environment["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), environment


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        fail(f"{name} is not installed: install Debian's postgresql-client (apt-get install postgresql-client)", 1)
    return path


def _run(command: list[str], environment: dict[str, str], on_line: Callable[[str], None] | None = None) -> None:
    """Run a PostgreSQL tool; its first error line (never the password, which it was not given) if it fails."""
    process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    errors = []
    for line in process.stderr:
        if on_line is not None and not line.startswith(f"{Path(command[0]).name}: error"):
            on_line(line)
        if ": error:" in line or "FATAL" in line or "ERROR" in line:
            errors.append(line.strip())
    if process.wait() != 0:
        fail(f"{Path(command[0]).name} failed: {errors[0] if errors else f'exit status {process.returncode}'}", 1)


def _revisions(url: str, services: tuple[Service, ...]) -> dict[str, str | None]:
    from sqlalchemy import inspect, text

    from diversion_common.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            revisions = {}
            for service in services:
                table = f"alembic_version_{service.value}"
                revisions[service.value] = connection.execute(text(f"SELECT version_num FROM {table}")).scalar() if table in tables else None
            return revisions
    finally:
        engine.dispose()


def _tables(url: str) -> list[str]:
    from sqlalchemy import inspect

    from diversion_common.database import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return inspect(connection).get_table_names()
    finally:
        engine.dispose()


# --- backup -----------------------------------------------------------------------------


def _backup_sqlite(database: Database, target: Path, advance: Callable[[int, int], None]) -> None:
    source_path = _sqlite_path(database.url)
    if not source_path.is_file():
        fail(f"no SQLite database at {source_path}", 1)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy, pages=SQLITE_PAGES_PER_STEP, progress=lambda _status, remaining, total: advance(total - remaining, total))
    finally:
        copy.close()
        source.close()


def _backup_postgresql(database: Database, target: Path, advance: Callable[[int, int], None]) -> None:
    url, environment = _libpq(database.url)
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={target}", f"--dbname={url}"], environment)
    advance(1, 1)


def backup(output: Path, only: Service | None) -> list[dict[str, Any]]:
    from diversion_cli.progress import progress_bar
    from diversion_common.database import utcnow
    from diversion_common.private_files import create_private_file, make_private_directory, write_private_text

    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        fail(f"--output {output} exists and is not an empty folder: a backup is never written over another")
    make_private_directory(output)
    entries = []
    with progress_bar() as progress:
        for database in _databases(only):
            revisions = _revisions(database.url, database.services)
            if not any(revisions.values()):
                fail(f"the {'+'.join(s.value for s in database.services)} database has no tables yet: nothing to back up", 1)
            target = output / database.file_name
            create_private_file(target)  # 0600 before the first byte
            task = progress.add_task(f"backing up {'+'.join(s.value for s in database.services)}", total=None)
            copy = _backup_sqlite if database.kind == "sqlite" else _backup_postgresql
            copy(database, target, lambda done, total, task=task: progress.update(task, completed=done, total=total))
            entries.append({"services": [s.value for s in database.services], "kind": database.kind, "file": database.file_name,
                            "revisions": revisions, "bytes": target.stat().st_size})
    write_private_text(output / MANIFEST, json.dumps({"format": FORMAT, "created_at": utcnow().isoformat(), "databases": entries}, indent=2) + "\n")
    return entries


# --- restore ----------------------------------------------------------------------------


def _restore_sqlite(source: Path, url: str, advance: Callable[[int, int], None]) -> None:
    from diversion_common.private_files import create_private_file

    target_path = _sqlite_path(url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    create_private_file(target_path)
    backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    target = sqlite3.connect(target_path)
    try:
        backup_file.backup(target, pages=SQLITE_PAGES_PER_STEP, progress=lambda _status, remaining, total: advance(total - remaining, total))
    finally:
        target.close()
        backup_file.close()


def _restore_postgresql(source: Path, url: str, advance: Callable[[int, int], None]) -> None:
    restore = _tool("pg_restore")
    listed = subprocess.run([restore, "--list", str(source)], capture_output=True, text=True)
    if listed.returncode != 0:
        fail(f"{source} is not a pg_dump archive: {listed.stderr.strip().splitlines()[0] if listed.stderr.strip() else 'unreadable'}", 1)
    total = sum(1 for line in listed.stdout.splitlines() if re.match(r"^\d+;", line))
    done = 0

    def step(line: str) -> None:
        nonlocal done
        if line.startswith("pg_restore: creating") or line.startswith("pg_restore: processing data"):
            done += 1
            advance(min(done, total), total)

    libpq_url, environment = _libpq(url)
    # One transaction: a restore that fails leaves the database as empty as it was.
    _run([restore, "--verbose", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
          f"--dbname={libpq_url}", str(source)], environment, on_line=step)
    advance(total, total)


def _manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        fail(f"{folder} is not a backup: it has no {MANIFEST}", 1)
    try:
        manifest = json.loads(path.read_text())
    except ValueError:
        fail(f"{path} is not JSON: the backup is damaged", 1)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or not isinstance(manifest.get("databases"), list):
        fail(f"{path} is not a backup manifest this version reads (format {FORMAT})", 1)
    return manifest


def restore(folder: Path, only: Service | None) -> list[dict[str, Any]]:
    from diversion_cli.progress import progress_bar

    entries = [e for e in _manifest(folder)["databases"] if only is None or only.value in e["services"]]
    if not entries:
        fail(f"the backup holds no database of {only.value if only else 'any service'}", 1)
    plan = []
    for entry in entries:
        services = tuple(Service(s) for s in entry["services"])
        urls = {database_url(s) for s in services}
        if len(urls) != 1:
            fail(f"{entry['file']} holds {' and '.join(entry['services'])} in one database, but their *_DATABASE_URL now differ")
        url = urls.pop()
        kind = "sqlite" if url.startswith("sqlite") else "postgresql"
        if kind != entry["kind"]:
            fail(f"{entry['file']} is a {entry['kind']} backup; {'+'.join(entry['services'])}'s database is {kind}")
        source = folder / entry["file"]
        if not source.is_file():
            fail(f"{source} is missing: the backup is incomplete", 1)
        if kind == "sqlite" and not _sqlite_path(url).exists():
            pass  # a new file: empty
        elif _tables(url):
            fail(f"{'+'.join(entry['services'])}'s database is not empty: restore only into an empty database (create a new one, or drop and recreate it)")
        plan.append((entry, source, url, kind))
    restored = []
    with progress_bar() as progress:
        for entry, source, url, kind in plan:
            task = progress.add_task(f"restoring {'+'.join(entry['services'])}", total=None)
            copy = _restore_sqlite if kind == "sqlite" else _restore_postgresql
            copy(source, url, lambda done, total, task=task: progress.update(task, completed=done, total=total))
            revisions = _revisions(url, tuple(Service(s) for s in entry["services"]))
            if revisions != entry["revisions"]:
                fail(f"{'+'.join(entry['services'])}: the restored database is at {revisions}, the backup said {entry['revisions']}", 1)
            _migrate_and_audit(entry, url)
            restored.append({"services": entry["services"], "kind": kind, "file": entry["file"], "revisions": revisions,
                             "migrated_to": _revisions(url, tuple(Service(s) for s in entry["services"]))})
    return restored


def _migrate_and_audit(entry: dict[str, Any], url: str) -> None:
    """Bring the restored database to this version's schema, then record the restore in its audit log."""
    from sqlmodel import Session

    from diversion_cli.context import audited
    from diversion_common.database import make_engine
    from diversion_common.migrations import upgrade

    for name in entry["services"]:
        upgrade(name, url)
    engine = make_engine(url)
    try:
        for name in entry["services"]:
            with Session(engine) as session:
                audited(session, Service(name), "restore", ids={"file": entry["file"], "revision": entry["revisions"][name]})
                session.commit()
    finally:
        engine.dispose()


# --- the commands -------------------------------------------------------------------------


def backup_command(
    output: Annotated[Path, typer.Option(help="A new (or empty) folder to write the backup to, readable by you only")],
    service: Annotated[Service | None, typer.Option(help="Only this service's database (default: both)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Back up both services' databases while they run: pg_dump -Fc for PostgreSQL, SQLite's online backup API."""
    entries = backup(output, service)
    if as_json:
        typer.echo(json.dumps({"output": str(output), "databases": entries}))
        return
    for entry in entries:
        typer.echo(f"{'+'.join(entry['services'])}: {entry['kind']}, {entry['bytes']} bytes, at {', '.join(f'{k} {v}' for k, v in entry['revisions'].items())}")
    typer.echo(f"backup written to {output} (readable by you only)")


def restore_command(
    path: Annotated[Path, typer.Argument(help="A folder `diversion-link backup` wrote")],
    service: Annotated[Service | None, typer.Option(help="Only this service's database (default: every one in the backup)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Restore a backup into the empty databases of *_DATABASE_URL, migrate them to this version, and
    record the restore in each service's audit log.

    Stop the services first; create each database (PostgreSQL) or move the old file away (SQLite)."""
    restored = restore(path, service)
    if as_json:
        typer.echo(json.dumps({"restored": restored}))
        return
    for entry in restored:
        typer.echo(f"{'+'.join(entry['services'])}: restored, at {', '.join(f'{k} {v}' for k, v in entry['migrated_to'].items())}")
