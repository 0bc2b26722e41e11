"""Each vocabulary is written once: no enum in the services restates every member of another
(a copy drifts: a state added to one is missing from the other). An enum that extends another
is made from it (e.g. the gateway's DeliveryStatus from the shared one)."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"

# Copies still to be removed, each (the copy, the enum it restates). The test fails when one
# is gone too, so that this list only shrinks.
KNOWN_COPIES: set[tuple[str, str]] = set()  # none left: each is made from the other (diversion_common/vocabulary.py)


def _enums() -> dict[str, dict[str, str]]:
    enums = {}
    for path in SERVICES.rglob("*.py"):
        name = "/".join(path.relative_to(SERVICES).parts[1:])
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(getattr(base, "id", "") == "StrEnum" for base in node.bases):
                members = {
                    statement.targets[0].id: statement.value.value
                    for statement in node.body
                    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
                }
                enums[f"{name}:{node.name}"] = members
    return enums


def test_no_enum_restates_another():
    enums = _enums()
    copies = {
        (copy, original)
        for (copy, mine), (original, theirs) in itertools.permutations(enums.items(), 2)
        if len(mine) >= 2 and set(mine.items()) <= set(theirs.items())
    }
    assert copies - KNOWN_COPIES == set(), "enums that restate another's members (make one from the other)"
    assert KNOWN_COPIES - copies == set(), "copies that are gone: take them off KNOWN_COPIES"
