"""An enum made from another's members, so a vocabulary is written once and narrowed or
extended where it is used (tests/common/test_vocabularies.py refuses restated members)."""

from __future__ import annotations

from enum import StrEnum


def enum_of(name: str, *members: StrEnum, module: str, **more: str) -> type[StrEnum]:
    """A StrEnum called ``name`` holding ``members`` (of another enum, same names and values) and ``more``."""
    return StrEnum(name, {**{member.name: member.value for member in members}, **more}, module=module)  # type: ignore[return-value]
