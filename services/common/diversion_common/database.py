"""Engines and sessions shared by both services.

Each service owns its engine and its tables; this module only knows how to
open a database well (SQLite needs a few pragmas to behave under concurrency).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Any
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import anyio.to_thread
from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool
from sqlmodel import Session

from diversion_common.private_files import create_private_file, make_private_directory, narrow


def utcnow() -> datetime:
    return datetime.now(UTC)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Accept plain postgresql:// URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


CONNECT_TIMEOUT_SECONDS = 5
POOL_WAIT_SECONDS = 10


def make_engine(url: str) -> Engine:
    """An engine whose errors never echo the statement's parameters (personal data)."""
    engine = _make_engine(normalise_url(url))
    _track_holders(engine)
    return engine


# --- who holds a connection -----------------------------------------------------------
# A call that waits on the other service while it holds a connection of its own pool stops
# every other user of that pool (on SQLite the pool is one connection). The calls to the other
# service check this first (diversion_common/messaging.py).
#
# Holders are counted per call, not per thread: the server runs a call's route on a pool thread
# and closes its session after the route returns, apart from it, so the thread may start the
# next call's route while the last call's connection is still out. A call (begin_call, from the
# outermost middleware) is a holder, whichever threads its work runs on; code outside any call
# (a relay's or a scheduler's thread) is one from its first checkout.

_holder_var: ContextVar[object | None] = ContextVar("connection_holder", default=None)
# Keyed by the holder itself, not its id(): a holder stays alive while it holds a connection, so
# a new call can never be taken for an old one whose id was reused.
_holders: dict[object, set[int]] = {}  # holder -> ids of the connection records it checked out
_holders_lock = threading.Lock()


def begin_call() -> None:
    """From here on, in this context and the contexts copied from it (the threads a call's work
    runs on), connections are held by a new call. Each service's outermost middleware calls it."""
    _holder_var.set(object())


class CallsHoldTheirOwnConnections:
    """ASGI middleware: each call (request) is a holder of its own (see ``begin_call``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        begin_call()
        await self.app(scope, receive, send)


def _current_holder() -> object:
    holder = _holder_var.get()
    if holder is None:
        holder = object()
        _holder_var.set(holder)
    return holder


def _track_holders(engine: Engine) -> None:
    @event.listens_for(engine, "checkout")
    def _checked_out(_dbapi_connection, record, _proxy):  # type: ignore[no-untyped-def]
        holder = _current_holder()
        record.info["holder"] = holder
        with _holders_lock:
            _holders.setdefault(holder, set()).add(id(record))

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):  # type: ignore[no-untyped-def]
        # Given back possibly by other code than took it (a dependency's teardown).
        holder = record.info.pop("holder", None)
        with _holders_lock:
            held = _holders.get(holder, set())
            held.discard(id(record))
            if not held:
                _holders.pop(holder, None)


def connections_held_here() -> int:
    """How many pooled connections the calling code (this call, this pass) has checked out and not given back."""
    holder = _holder_var.get()
    if holder is None:
        return 0
    with _holders_lock:
        return len(_holders.get(holder, ()))


def _make_engine(url: str) -> Engine:
    if is_sqlite(url):
        database = make_url(url).database
        files = _private_sqlite_files(database)
        # SQLite has one writer at a time. One pooled connection per process makes
        # threads queue in the pool, handed over at once, instead of sleeping in
        # SQLite's busy handler; busy_timeout still covers other processes.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # WAL lets readers run beside the one writer; busy_timeout makes a
            # second writer wait instead of failing at once.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # SQLite gives its -wal and -shm files the database file's mode; this makes sure.
            for companion in files:
                narrow(companion)
            # pysqlite's own transaction handling defers BEGIN; take it over so
            # a write transaction starts with BEGIN IMMEDIATE and cannot deadlock.
            dbapi_connection.isolation_level = None

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # type: ignore[no-untyped-def]
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A database host that stops answering (rather than refusing) must cost a request seconds, not
    # minutes: the connection attempt and the wait for a pooled connection are bounded, and the
    # request gets a 503 problem with Retry-After (diversion_common/problems.py).
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, pool_timeout=POOL_WAIT_SECONDS, hide_parameters=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS},
    )


def key_check_engine(engine: Engine) -> Engine:
    """The engine the authentication gate reads API keys with.

    On SQLite, a small pool of read-only connections of its own: every call checks its key, and
    through the one writing connection each check queued behind every transaction of the process
    (under load, the most common wait in stack dumps: docs/PERFORMANCE.md). In WAL mode readers
    never wait for the writer, and a key check is a single statement, its own read transaction.
    On PostgreSQL the service's own pool already serves many at once: the same pool, each check
    in autocommit, a single statement."""
    database = engine.url.database
    if engine.dialect.name != "sqlite":
        # The same pool, each check its own statement: no BEGIN and ROLLBACK around it (two round trips).
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    if not database or database == ":memory:" or database.startswith("file:"):
        return engine
    reader = create_engine(
        engine.url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True,
        poolclass=QueuePool, pool_size=4, max_overflow=0, pool_timeout=60,
    )

    @event.listens_for(reader, "connect")
    def _read_only(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA query_only=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        dbapi_connection.isolation_level = None  # no BEGIN: each statement reads on its own

    return reader


def pool_connections(engine: Engine) -> int:
    """How many connections the engine's pool hands out at most."""
    pool = engine.pool
    size = pool.size() if isinstance(pool, QueuePool) else 1
    return size + max(getattr(pool, "_max_overflow", 0), 0)


def _private_sqlite_files(database: str | None) -> list[Path]:
    """Create the database file 0600 (its directory 0700 when new) before SQLite opens it:
    it holds personal data. Returns the files to keep private: it, its -wal and -shm."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return []
    path = Path(database)
    make_private_directory(path.parent)
    create_private_file(path)
    return [path, Path(f"{database}-wal"), Path(f"{database}-shm")]


async def call_session(request: Request) -> AsyncIterator[Session]:
    """A call's session: use it as ``Depends(get_session, scope="function")``, so that it is closed
    (its connection given back) before the answer is sent, not after (diversion_common/admission.py).

    Made and closed on the event loop, not in a thread of its own: making one does no I/O, nor does
    closing one whose transaction has ended (the route committed). Each hop to a thread and back
    costs a call CPU in hand-offs (docs/PERFORMANCE.md); only a route that failed mid-transaction
    has a rollback to send, and that goes to a thread."""
    session = Session(request.app.state.engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close)
        else:
            session.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose transaction the caller commits; rolled back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
