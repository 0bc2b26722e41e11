"""The authentication gate reads keys beside the one writing connection, not behind it."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from diversion_common.database import key_check_engine, make_engine


def test_on_sqlite_a_key_is_read_while_the_writer_holds_its_transaction(fresh_database, backend: str):
    if backend != "sqlite":
        pytest.skip("SQLite only: on PostgreSQL the pool serves many at once")
    engine = make_engine(fresh_database("referral_api"))
    reader = key_check_engine(engine)
    try:
        assert reader is not engine
        with engine.connect() as writer:  # the one pooled writing connection, mid-transaction
            writer.execute(text("INSERT INTO referral_forces (code, name, updated_at) VALUES ('ZZ', 'Uncommitted', '2026-01-01 00:00:00')"))
            with reader.connect() as connection:
                # Not queued behind the writer (its pool has one connection, taken), and it sees
                # only what is committed.
                count = connection.execute(text("SELECT count(*) FROM referral_forces WHERE code = 'ZZ'")).scalar()
                assert count == 0
            writer.rollback()
        with reader.connect() as connection, pytest.raises(OperationalError, match="readonly"):
            connection.execute(text("INSERT INTO referral_forces (code, name, updated_at) VALUES ('ZY', 'Never', '2026-01-01 00:00:00')"))
    finally:
        reader.dispose()
        engine.dispose()


def test_on_postgresql_the_key_check_uses_the_service_pool(fresh_database, backend: str):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    engine = make_engine(fresh_database("referral_api"))
    try:
        assert key_check_engine(engine) is engine
    finally:
        engine.dispose()
