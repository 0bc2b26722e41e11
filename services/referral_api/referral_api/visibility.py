"""Who sees which field, declared once: each party has a view model of its own for each phase of
what it looks at (a breach request open or closed, a young person's case before or after the
unit's part ended), and every field is filled by one builder from one table. A field reaches a
party only if that party's model for that phase names it; nothing is copied field by field.
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel

View = TypeVar("View", bound=BaseModel)
Source = TypeVar("Source")


class Phase(StrEnum):
    open = "open"  # the party is acting on it: it sees what it needs to act
    closed = "closed"  # decided, withdrawn or ended: it sees the record of the decision, never the person


def build(model: type[View], builders: Mapping[str, Callable[[Source], Any]], source: Source) -> View:
    """The model, each of its fields from its builder (only those: a field the model does not name is never built)."""
    return model(**{name: builders[name](source) for name in model.model_fields})


def unbuilt(models: list[type[BaseModel]], builders: Mapping[str, Callable[..., Any]]) -> set[str]:
    """Fields a view model names that no builder fills: empty, or a view cannot be built."""
    return {name for model in models for name in model.model_fields if name not in builders}
