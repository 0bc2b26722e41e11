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
            # The service's own pool serves many at once: the key checks share it.
            assert reader is engine
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
        if reader is not engine:
            reader.dispose()
        engine.dispose()
