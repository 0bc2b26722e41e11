"""The authentication gate reads keys beside the one writing connection, not behind it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from diversion_common.database import key_check_engine, make_engine

UNCOMMITTED = "INSERT INTO referral_forces (code, name, updated_at) VALUES ('ZZ', 'Uncommitted', '2026-01-01 00:00:00')"


def test_a_key_is_read_while_the_writer_holds_its_transaction(fresh_database, backend: str):
    engine = make_engine(fresh_database("referral_api"))
    reader = key_check_engine(engine)
    try:
        if backend == "postgresql":
            # The service's own pool serves many at once: the key checks share it, each check a
            # statement of its own (no BEGIN and ROLLBACK round trips around it).
            assert reader.pool is engine.pool
            with reader.connect() as connection:
                connection.execute(text("SELECT 1"))
                assert connection.connection.dbapi_connection.autocommit is True
            with engine.connect() as connection:  # the same pooled connection, back in transactions
                assert connection.connection.dbapi_connection.autocommit is False
        else:
            # SQLite: a pool of its own, beside the one pooled writing connection.
            assert reader is not engine
        with engine.connect() as writer:  # a writing connection, mid-transaction
            writer.execute(text(UNCOMMITTED))
            with reader.connect() as connection:
                # Not queued behind the writer, and it sees only what is committed.
                assert connection.execute(text("SELECT count(*) FROM referral_forces WHERE code = 'ZZ'")).scalar() == 0
            writer.rollback()
        if backend == "sqlite":
            with reader.connect() as connection, pytest.raises(OperationalError, match="readonly"):
                connection.execute(text(UNCOMMITTED))
    finally:
        if reader.pool is not engine.pool:
            reader.dispose()
        engine.dispose()
