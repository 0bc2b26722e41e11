"""Files holding personal data or credentials are created readable by their owner only (issue 16, item 8)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from diversion_common.database import make_engine
from diversion_common.private_files import write_private_text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The usual umask (022): left to it, new files would be world-readable."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_sqlite_database_and_its_wal_and_shm_files_are_0600(tmp_path, permissive_umask):
    database = tmp_path / "var" / "referral_api.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x TEXT)"))
        connection.execute(text("INSERT INTO t VALUES ('someone')"))
    files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
    assert all(f.exists() for f in files)  # open connection in WAL mode: all three are there
    assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    assert mode(database.parent) == 0o700
    engine.dispose()


def test_an_existing_world_readable_database_is_narrowed_when_opened(tmp_path, permissive_umask):
    database = tmp_path / "old.db"
    database.touch(mode=0o644)
    database.chmod(0o644)
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert mode(database) == 0o600
    engine.dispose()


def test_private_text_is_0600_from_the_start_and_an_older_file_is_narrowed(tmp_path, permissive_umask):
    fresh = tmp_path / ".run" / "demo.env"
    write_private_text(fresh, "KEY=value\n")
    assert mode(fresh) == 0o600 and fresh.read_text() == "KEY=value\n"

    older = tmp_path / "demo-credentials.json"
    older.write_text("{}")
    older.chmod(0o644)
    write_private_text(older, "{\"admin\": {}}")
    assert mode(older) == 0o600 and older.read_text() == "{\"admin\": {}}"
