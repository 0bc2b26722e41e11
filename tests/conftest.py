"""Test harness: every test gets its own clean database, built by the migrations.

The schema comes from Alembic once per run into a template (a SQLite file, or
a PostgreSQL template database); each test then gets a copy of it. PostgreSQL
runs when TEST_POSTGRES_URL is set: the harness creates its throw-away
databases on that server and drops them at the end.
"""

from __future__ import annotations

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


def _pg_admin_engine():
    url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=__import__("sqlalchemy.pool", fromlist=["NullPool"]).NullPool)


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
    created: list[str] = []
    templates: Templates = request.getfixturevalue(f"{backend}_templates")

    def make(service: str) -> str:
        if backend == "sqlite":
            path = tmp_path / f"{service}-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(templates.urls[service], path)
            return f"sqlite:///{path}"
        name = f"{RUN_TAG}_{service}_{uuid.uuid4().hex[:10]}"
        with _pg_admin_engine().connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{templates.urls[service]}"'))
        created.append(name)
        return _pg_url(name)

    yield make
    if created:
        engine = _pg_admin_engine()
        with engine.connect() as conn:
            for name in created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


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
