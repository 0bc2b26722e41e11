"""Request field types that take exactly what the OpenAPI document promises.

pydantic validates request data in its lax Python mode, where a date-time also
parses from a number or a Unix timestamp string ("0.5") and a date from a
midnight timestamp. The document says an RFC 3339 string, so that is all these
accept from a client; Python callers may still pass ``date``/``datetime`` objects.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

_RFC3339_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339(pattern: re.Pattern[str], python_type: type, description: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, python_type):
            return value
        if isinstance(value, str) and pattern.fullmatch(value):
            return value
        raise ValueError(f"must be {description}")

    return BeforeValidator(check)


def _to_utc(value: datetime) -> datetime:
    # One instant, one representation: stored, compared and paged in UTC.
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the range of dates this service handles") from None


DateTime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    _rfc3339(_RFC3339_DATE_TIME, datetime, "an RFC 3339 date-time with a UTC offset, e.g. 2026-01-31T14:05:00Z"),
]
Date = Annotated[date, _rfc3339(_RFC3339_DATE, date, "an RFC 3339 full-date, e.g. 2001-01-31")]


def _null_not_offered(schema: dict[str, Any]) -> None:
    schema.pop("default", None)
    offered = [variant for variant in schema.pop("anyOf", []) if variant != {"type": "null"}]
    if offered:
        (variant,) = offered
        schema.update(variant)


def unchanged(**constraints: Any) -> Any:
    """A field a change may leave out, keeping its value; null is refused, so not documented."""
    return Field(default=None, json_schema_extra=_null_not_offered, **constraints)
