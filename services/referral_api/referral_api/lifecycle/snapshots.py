"""A case's snapshot as JSON and back, for storing it beside the case. No I/O."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import TypeAdapter

from referral_api.lifecycle.fold import CaseSnapshot

# The snapshot's shape: change it whenever CaseSnapshot (or what it holds) changes shape,
# and every stored snapshot of the old shape is rebuilt from its log when next read.
FORMAT = 1

_ADAPTER = TypeAdapter(CaseSnapshot)

_EACH = object()  # in a path: every value of a mapping


def _set_paths(cls: type, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Where the snapshot holds a set: ("providers", _EACH, "done") and the like."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        yield from _set_paths_in(hints[field.name], (*path, field.name))


def _set_paths_in(hint: Any, path: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (frozenset, set):
        yield path
    elif origin in (Mapping, dict):
        yield from _set_paths_in(args[1], (*path, _EACH))
    elif origin is tuple:
        for arg in args:
            if arg is not Ellipsis:
                yield from _set_paths_in(arg, (*path, _EACH))
    elif origin in (typing.Union, types.UnionType):  # X | None
        for arg in args:
            yield from _set_paths_in(arg, path)
    elif dataclasses.is_dataclass(hint):
        yield from _set_paths(hint, path)


_SET_PATHS = tuple(_set_paths(CaseSnapshot))


def snapshot_to_json(snapshot: CaseSnapshot) -> dict[str, Any]:
    # A set's order depends on the process's string hashing, so a set written as it iterates
    # could read back and be written again in another order: sorted, one snapshot has one form.
    data = _ADAPTER.dump_python(snapshot, mode="json")
    for path in _SET_PATHS:
        for names in _at(data, path):
            names.sort()
    return data


def snapshot_from_json(data: dict[str, Any]) -> CaseSnapshot:
    return _ADAPTER.validate_python(data)


def _at(data: Any, path: tuple[Any, ...]) -> Iterator[Any]:
    if not path:
        yield data
    elif path[0] is _EACH:
        for value in data.values() if isinstance(data, dict) else data if isinstance(data, list) else ():
            yield from _at(value, path[1:])
    elif isinstance(data, dict):
        yield from _at(data[path[0]], path[1:])
