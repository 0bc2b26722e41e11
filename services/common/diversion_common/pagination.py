"""Opaque keyset cursors: (a timestamp, an id) after which the next page starts."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import StringConstraints
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import Session

from diversion_common.database import as_utc
from diversion_common.problems import FieldError, ValidationFailed


Row = TypeVar("Row")

# What encode_cursor writes: unpadded base64url. Anything else (a NUL...) is refused at the door.
Cursor = Annotated[str, StringConstraints(max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
# The cursor of the first page, for clients that send one on every call (offset-style "0").
FIRST_PAGE = "0"
CURSOR_DESCRIPTION = (
    "Where the page starts: omit it (or send `0`) for the first page, then send the `next_cursor` of the "
    "page before, as it came. Any other value is not a cursor this service issued: 422."
)
# Every list's cursor parameter, so that each says the same.
CursorQuery = Annotated[Cursor | None, Query(description=CURSOR_DESCRIPTION)]


class InvalidCursor(ValidationFailed):
    def __init__(self) -> None:
        super().__init__(
            "the cursor is not one this service issued",
            errors=[FieldError(pointer="#query/cursor", detail="is not a valid cursor")],
        )


def encode_cursor(at: datetime, key: str) -> str:
    raw = json.dumps({"u": as_utc(at).isoformat(), "i": key})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        at, key = as_utc(datetime.fromisoformat(raw["u"])), raw["i"]
        # The key goes into the query as it is: PostgreSQL refuses a NUL in a string (a 500).
        if not isinstance(key, str) or "\x00" in key:
            raise TypeError
        return at, key
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None


def keyset_page(
    session: Session,
    query: Select[tuple[Row]],
    *,
    at: InstrumentedAttribute[datetime],
    key: InstrumentedAttribute[Any],
    cursor: str | None,
    limit: int,
    key_from_text: Callable[[str], Any] = str,
    key_to_text: Callable[[Any], str] = str,
) -> Page[Row]:
    """One page of ``query`` in (at, key) order, starting after ``cursor``."""
    if cursor is not None and cursor != FIRST_PAGE:
        after_at, after_text = decode_cursor(cursor)
        try:
            after_key = key_from_text(after_text)
        except ValueError:
            raise InvalidCursor() from None
        query = query.where(or_(at > after_at, and_(at == after_at, key > after_key)))
    rows = list(session.scalars(query.order_by(at, key).limit(limit + 1)))
    page = rows[:limit]
    last = page[-1] if page else None
    more = len(rows) > limit and last is not None
    next_cursor = encode_cursor(getattr(last, at.key), key_to_text(getattr(last, key.key))) if more else None
    return Page(page, next_cursor)


def uuid_key(text: str) -> uuid.UUID:
    return uuid.UUID(hex=text)


def uuid_text(value: uuid.UUID) -> str:
    return value.hex
