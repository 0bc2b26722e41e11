"""The audit row of an operator's command that changes something (``diversion-link ...``).

Written in the change's own transaction, so it commits with the change or not at all: an
audit row for every change, and none for a command that changed nothing. A command that
changes several transactions' worth (the breach checks, a retention run) writes one row per
transaction, each naming the cases it changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlmodel import Session

from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from diversion_common.database import utcnow

COMMAND_METHOD = "CLI"
COMMAND_DONE = 0  # the status of a command's row: its exit status (the row exists only if it changed something)


def audit_command(
    session: Session,
    record_table: type[AuditRecordFields],
    case_table: type[AuditCaseFields],
    *,
    actor: str,
    command: str,
    ids: dict[str, Any] | None = None,
    case_ids: Iterable[uuid.UUID] = (),
) -> None:
    """Add the row to the caller's transaction; the caller commits it with the change."""
    record = record_table(
        request_id=str(uuid.uuid4()), actor=actor, method=COMMAND_METHOD, route=f"diversion-link {command}"[:200],
        path_ids={key: str(value) for key, value in (ids or {}).items() if value is not None} or None,
        status=COMMAND_DONE, at=utcnow(),
    )
    session.add(record)
    session.flush()
    assert record.id is not None
    session.add_all([case_table(audit_id=record.id, case_id=case_id) for case_id in dict.fromkeys(case_ids)])
