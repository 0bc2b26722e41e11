"""The revisions of a service's migrations, read from their files without importing Alembic.

The readiness check needs only the heads and every known revision. Asking Alembic's
``ScriptDirectory`` loads Alembic and Mako into every service process: about 9 MB of each
process's memory for two lists (docs/PERFORMANCE.md, "Memory"). Each migration file names its
``revision`` and ``down_revision`` as literals, which is all this reads;
tests/migrations/test_revisions.py checks the answer against Alembic's own for each service.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

MIGRATIONS = Path(__file__).resolve().parents[3] / "migrations"


@cache
def known_revisions(service: str) -> tuple[frozenset[str], frozenset[str]]:
    """The heads of the service's migrations, and every revision they know (read once)."""
    revises: dict[str, frozenset[str]] = {}
    for path in sorted((MIGRATIONS / service / "versions").glob("*.py")):
        names = _literals(path, {"revision", "down_revision"})
        if "revision" not in names:
            continue
        down = names.get("down_revision")
        revises[names["revision"]] = frozenset([down] if isinstance(down, str) else down or ())
    later = frozenset().union(*revises.values())
    return frozenset(revises) - later, frozenset(revises)


def _literals(path: Path, wanted: set[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for statement in ast.parse(path.read_text(), str(path)).body:
        target, value = (
            (statement.target, statement.value) if isinstance(statement, ast.AnnAssign)
            else (statement.targets[0], statement.value) if isinstance(statement, ast.Assign) and len(statement.targets) == 1
            else (None, None)
        )
        if isinstance(target, ast.Name) and target.id in wanted and value is not None:
            found[target.id] = ast.literal_eval(value)
    return found
