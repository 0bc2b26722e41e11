"""Opaque keyset cursors: (a timestamp, an id) after which the next page starts."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from diversion_common.database import as_utc
from diversion_common.problems import FieldError, ValidationFailed


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
        if not isinstance(key, str):
            raise TypeError
        return at, key
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None
