"""What every JSON request body must be beyond well-formed: each object's keys distinct.

JSON parsers disagree on a repeated key (Python's keeps the last, others the first), so a
body with one means what the reader chooses: a doubled ``type`` once raised a breach. Every
body either service takes, a provider's signed event and the other service's messages
included, is checked here once, by ``request_limits`` as the body arrives, before any route
parses it; the answer is a 422 problem naming where the key repeats.
"""

from __future__ import annotations

import json
import re
from typing import Any

from diversion_common.problems import FieldError

# A key is quoted in the answer only when it looks like a field's name: a client's free text stays out.
_NAMEABLE = re.compile(r"[A-Za-z0-9_.-]{1,60}")


class _Repeated(dict[str, Any]):
    """An object that had a key twice (the parse goes on, to find where)."""

    repeated: str


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            repeated = _Repeated(pairs)
            repeated.repeated = key
            return repeated
        seen[key] = value
    return seen


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _first_repeat(value: Any, pointer: str) -> FieldError | None:
    if isinstance(value, _Repeated):
        key = value.repeated
        if _NAMEABLE.fullmatch(key):
            return FieldError(pointer=f"{pointer}/{_escape(key)}", detail=f'the key "{key}" appears more than once in this object')
        return FieldError(pointer=pointer, detail="a key appears more than once in this object")
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found = _first_repeat(child, f"{pointer}/{_escape(str(key))}")
        if found is not None:
            return found
    return None


def repeated_key(body: bytes) -> FieldError | None:
    """Where ``body`` repeats a key within one object, if it does. A body that is not JSON
    is not this check's to answer (the route's parser refuses it): None."""
    try:
        parsed = json.loads(body, object_pairs_hook=_pairs)
    except (ValueError, RecursionError):
        return None
    return _first_repeat(parsed, "")
