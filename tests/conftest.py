"""Test harness: every test gets its own clean database, built by the migrations.

The schema comes from Alembic once per run into a template (a SQLite file, or
a PostgreSQL template database); each test then gets a copy of it. PostgreSQL
runs when TEST_POSTGRES_URL is set: the harness creates its throw-away
databases on that server and drops them at the end.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from diversion_common.migrations import upgrade
from diversion_common.secrets_at_rest import new_key

# Signing secrets are encrypted at rest with a key from the environment (docs/SECURITY.md, item 8):
# every service the tests start, in this process or as a process of its own, uses these.
for _variable in ("REFERRAL_API_SECRETS_KEYS", "PROVIDER_GATEWAY_SECRETS_KEYS"):
    os.environ.setdefault(_variable, new_key())

# The rate limits (docs/SECURITY.md, item 7) are set low by the tests of them; elsewhere they
# would only get in the way (the contract tests send many wrong keys on purpose, from one address).
for _service in ("REFERRAL_API", "PROVIDER_GATEWAY"):
    for _limit in ("PER_CLIENT", "PER_ADDRESS", "FAILED_AUTH"):
        os.environ.setdefault(f"{_service}_RATE_LIMIT_{_limit}", "1000000/minute")

# End-to-end fixtures (both services as real processes) for tests/<service>/e2e.
pytest_plugins = ["support.system_fixtures", "support.linked_services"]

SERVICES = ("referral_api", "provider_gateway")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
RUN_TAG = f"dlt{os.getpid()}"


@dataclass
class Templates:
    backend: str
    urls: dict[str, str]


@functools.cache
def _pg_admin_engine():
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@functools.cache
def _pg_engine(database: str):
    """An engine for a test database, made once per worker (no pool: it holds no connection)."""
    return create_engine(_pg_url(database), poolclass=NullPool)


def _pg_url(database: str) -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql+psycopg", database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def sqlite_templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    folder = tmp_path_factory.mktemp("templates")
    urls = {}
    for service in SERVICES:
        path = folder / f"{service}.db"
        upgrade(service, f"sqlite:///{path}")
        urls[service] = str(path)
    return Templates("sqlite", urls)


@pytest.fixture(scope="session")
def postgresql_templates() -> Iterator[Templates]:
    assert POSTGRES_URL, "the postgresql backend runs only when TEST_POSTGRES_URL is set"
    admin = _pg_admin_engine()
    names = {service: f"{RUN_TAG}_{service}_template" for service in SERVICES}
    with admin.connect() as conn:
        for name in names.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    for service, name in names.items():
        upgrade(service, _pg_url(name))
    yield Templates("postgresql", names)
    with admin.connect() as conn:
        leftovers = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{RUN_TAG}_%"})
        for (name,) in list(leftovers):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


DatabaseFactory = Callable[[str], str]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked postgresql_only is not generated for SQLite, nor one marked
    database_independent for PostgreSQL: each runs where what it tests can differ."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on = params.get("backend") or params.get("module_backend")
        unwanted = (on == "sqlite" and item.get_closest_marker("postgresql_only")) or (
            on == "postgresql" and item.get_closest_marker("database_independent")
        )
        (dropped if unwanted else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    # xdist hands out whole files in this order: the longest first, so that none is left running
    # alone at the end while the other workers have nothing to do (each file keeps its own order).
    items.sort(key=_file_rank)


LONGEST_FILES = ("/e2e/", "/deploy/", "contract/test_schemathesis.py", "common/test_mixed_load.py", "common/test_health_endpoints.py")


def _file_rank(item: pytest.Item) -> int:
    path = item.path.as_posix()
    if any(part in path for part in LONGEST_FILES):
        return 0
    return 2 if "/unit/" in path else 1


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def fresh_database(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    """Call with a service name to get the URL of a new, migrated, empty database."""
    yield from _databases(backend, request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_backend(request: pytest.FixtureRequest) -> str:
    """``backend`` for module-scoped fixtures: a module's tests run once per database."""
    return request.param


@pytest.fixture(scope="module")
def module_fresh_database(
    module_backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DatabaseFactory]:
    """``fresh_database`` for module-scoped fixtures (an app a whole module's tests share)."""
    yield from _databases(module_backend, request, tmp_path_factory.mktemp("databases"))


def _databases(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DatabaseFactory]:
    taken: list[tuple[str, str]] = []
    templates: Templates = request.getfixturevalue(f"{backend}_templates")

    def make(service: str) -> str:
        if backend == "sqlite":
            path = tmp_path / f"{service}-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(templates.urls[service], path)
            return f"sqlite:///{path}"
        name = postgresql_pool.take(service, templates.urls[service])
        taken.append((service, name))
        return _pg_url(name)

    yield make
    for service, name in taken:
        postgresql_pool.give_back(service, name)


class PostgresqlPool:
    """Each test's PostgreSQL databases, made from the templates once per test process and emptied
    for the next test: CREATE DATABASE copies the whole template (about 8 MB written to the WAL and
    synced) and DROP DATABASE forgets it, for each of about 800 databases in a run; emptying one
    writes only what its test wrote. A database whose schema a test changed (a migration test's
    downgrade), or that cannot be emptied, is dropped and a new one made."""

    def __init__(self) -> None:
        self.free: dict[str, list[str]] = {}
        self.templates: dict[str, _TemplateContents] = {}

    def take(self, service: str, template: str) -> str:
        if template not in self.templates:
            self.templates[template] = _TemplateContents.read(template)
        contents = self.templates[template]
        while self.free.get(service):
            name = self.free[service].pop()
            if _emptied(name, contents):
                return name
            _drop(name)
        name = f"{RUN_TAG}_{service}_{uuid.uuid4().hex[:10]}"
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return name

    def give_back(self, service: str, name: str) -> None:
        self.free.setdefault(service, []).append(name)


@dataclass
class _TemplateContents:
    schema: tuple  # what a test must not have changed for its database to be reused
    tables: list[str]
    rows: dict[str, list[dict]]  # the rows the migrations seeded (reference data)
    sequences: dict[str, tuple[int, bool]]

    @functools.cached_property
    def emptying(self) -> str:
        """Every table emptied, as one round trip (triggers off: the case log refuses DELETE)."""
        return "SET LOCAL session_replication_role = replica; " + " ".join(f'DELETE FROM "{table}";' for table in self.tables)

    @functools.cached_property
    def resetting_sequences(self) -> str:
        return " ".join(
            f"SELECT setval('\"{sequence}\"', {int(value)}, {'true' if called else 'false'});"
            for sequence, (value, called) in self.sequences.items()
        )

    @classmethod
    def read(cls, template: str) -> _TemplateContents:
        engine = create_engine(_pg_url(template), poolclass=NullPool)
        with engine.connect() as conn:
            tables = list(conn.scalars(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'alembic_version%' ORDER BY 1"
            )))
            rows = {table: [dict(row._mapping) for row in conn.execute(text(f'SELECT * FROM "{table}"'))] for table in tables}
            sequences = {
                name: (value, called) for name, value, called in conn.execute(text(
                    "SELECT sequencename, COALESCE(last_value, start_value), last_value IS NOT NULL FROM pg_sequences WHERE schemaname = 'public'"
                ))
            }
            contents = cls(_schema_of(conn), tables, {table: found for table, found in rows.items() if found}, sequences)
        engine.dispose()
        return contents


def _schema_of(conn) -> tuple:
    versions = tuple(
        conn.scalar(text(f'SELECT string_agg(version_num, \',\') FROM "{table}"'))
        for table in conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'alembic_version%' ORDER BY 1"))
    )
    objects = conn.execute(text(
        "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace),"
        " (SELECT count(*) FROM pg_trigger WHERE NOT tgisinternal),"
        " (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace)"
    )).one()
    return versions, tuple(objects)


def _emptied(name: str, contents: _TemplateContents) -> bool:
    """Back to the template's contents; False if that cannot be done (the database is then dropped)."""
    try:
        with _pg_admin_engine().connect() as conn:  # what the last test left connected (a killed process's pool)
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        with _pg_engine(name).begin() as conn:
            if _schema_of(conn) != contents.schema:
                return False
            conn.exec_driver_sql(contents.emptying)
            for table, rows in contents.rows.items():
                columns = list(rows[0])
                names, values = ", ".join(f'"{c}"' for c in columns), ", ".join(f":{c}" for c in columns)
                conn.execute(text(f'INSERT INTO "{table}" ({names}) VALUES ({values})'), rows)
            if contents.resetting_sequences:
                conn.exec_driver_sql(contents.resetting_sequences)
    except Exception:  # noqa: BLE001 - any doubt: a new database instead
        return False
    return True


def _drop(name: str) -> None:
    with _pg_admin_engine().connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


postgresql_pool = PostgresqlPool()


@pytest.fixture
def keys_from_environment() -> Iterator[None]:
    """Secrets keys read from the environment as the test sets it, not those an app started
    earlier in this process configured (diversion_common/secrets_at_rest.py)."""
    from diversion_common import secrets_at_rest

    def forget() -> None:
        for variable in ("REFERRAL_API_SECRETS_KEYS", "PROVIDER_GATEWAY_SECRETS_KEYS"):
            secrets_at_rest.use_keys(variable, None)

    forget()
    yield
    forget()


@pytest.fixture
def diversion_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record our services log (the 'diversion' loggers do not propagate to root)."""
    records: list[logging.LogRecord] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.DEBUG)
    logger = logging.getLogger("diversion")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    yield records
    logger.removeHandler(handler)
    logger.setLevel(previous)
