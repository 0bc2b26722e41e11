"""A case's snapshot as JSON and back, for storing it beside the case. No I/O."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from referral_api.lifecycle.fold import CaseSnapshot

# The snapshot's shape: change it whenever CaseSnapshot (or what it holds) changes shape,
# and every stored snapshot of the old shape is rebuilt from its log when next read.
FORMAT = 1

_ADAPTER = TypeAdapter(CaseSnapshot)


def snapshot_to_json(snapshot: CaseSnapshot) -> dict[str, Any]:
    return _ADAPTER.dump_python(snapshot, mode="json")


def snapshot_from_json(data: dict[str, Any]) -> CaseSnapshot:
    return _ADAPTER.validate_python(data)
