"""Whether a service can do its work: its database answers, at the schema its code needs.

Checked on a connection of its own (no pool), with short timeouts: never one of the
service's pooled connections, which its calls may all hold (on SQLite there is only one),
and never for longer than an orchestrator waits for an answer. Nothing here names the
database's address or anything stored in it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, column, create_engine, inspect, select, table, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from diversion_common.database import is_sqlite, normalise_url
from diversion_common.revisions import known_revisions

CHECK_TIMEOUT_SECONDS = 3


def probe_engine(database_url: str) -> Engine:
    url = normalise_url(database_url)
    if is_sqlite(url):
        return create_engine(url, poolclass=NullPool, connect_args={"timeout": CHECK_TIMEOUT_SECONDS})
    timeout_ms = CHECK_TIMEOUT_SECONDS * 1000
    return create_engine(
        url, poolclass=NullPool, hide_parameters=True,
        connect_args={"connect_timeout": CHECK_TIMEOUT_SECONDS, "options": f"-c statement_timeout={timeout_ms} -c lock_timeout={timeout_ms}"},
    )


def database_and_schema(service: str, engine: Engine) -> dict[str, str]:
    """``{"database": ..., "schema": ...}``: "ok", or why not, for each."""
    database = make_url(str(engine.url)).database
    if is_sqlite(str(engine.url)) and database not in (None, "", ":memory:") and not Path(database).exists():
        return {"database": "ok", "schema": "not migrated (no database file yet)"}  # connecting would create it
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            # Read directly: alembic's MigrationContext would log a line at every probe.
            version_table = f"alembic_version_{service}"
            current = frozenset(
                connection.scalars(select(column("version_num")).select_from(table(version_table))).all()
                if inspect(connection).has_table(version_table) else ()
            )
    except Exception as error:  # its class only: a driver's message may name the host or the user
        return {"database": f"unreachable ({type(error).__name__})", "schema": "unknown"}
    return {"database": "ok", "schema": schema_state(service, current)}


def schema_state(service: str, current: frozenset[str]) -> str:
    heads, known = known_revisions(service)
    if current == heads:
        return "ok"
    if not current:
        return f"not migrated (this code needs {', '.join(sorted(heads))}): run `diversion-link migrate`"
    if current - known:
        return f"at {', '.join(sorted(current))}, newer than this code ({', '.join(sorted(heads))})"
    return f"at {', '.join(sorted(current))}, behind this code ({', '.join(sorted(heads))}): run `diversion-link migrate`"
