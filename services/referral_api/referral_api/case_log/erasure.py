"""The one way to change a recorded fact: retention's erasure of its free text.

The database refuses UPDATE and DELETE on the case log (``referral_case_facts``) and on the
read log (``referral_case_access``): migration 0010's triggers. Inside ``erasure_permitted``,
and only there, a fact's ``data`` may change (never which fact it is, when, or from whom),
and a fact still cannot be deleted. The permit lasts no longer than the block, within the
caller's transaction: PostgreSQL's transaction-local ``diversion.erasure`` setting, or on
SQLite a row of ``referral_erasure_permits`` inserted and deleted in that transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlmodel import Session

PERMITS = "referral_erasure_permits"


@contextmanager
def erasure_permitted(session: Session) -> Iterator[None]:
    """Let the facts changed in this block be written (flushed before the permit ends)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    session.flush()  # nothing changed before the block goes through under the permit
    if postgresql:
        session.execute(text("SET LOCAL diversion.erasure = 'on'"))
    else:
        session.execute(text(f"INSERT INTO {PERMITS} (id) VALUES (1)"))
    yield
    session.flush()
    # Not reached on an error: then the caller's rollback ends the permit with everything else.
    if postgresql:
        session.execute(text("SET LOCAL diversion.erasure = 'off'"))
    else:
        session.execute(text(f"DELETE FROM {PERMITS}"))
