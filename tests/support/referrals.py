"""Synthetic referrals: made-up people only, never real ones."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

_counter = itertools.count(1)


def years_ago(years: int, days: int = 0) -> str:
    today = date.today()
    try:
        then = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        then = today.replace(year=today.year - years, day=28)
    return (then - timedelta(days=days)).isoformat()


def adult_referral(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "police_reference": f"43/{next(_counter):05d}/26",
        "encounter": {
            "occurred_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
            "district": "reading",
            "postcode": "RG1 1AA",
        },
        "drugs": [{"name": "cannabis", "class": "B"}],
        "body_worn_video_reference": "BWV-TEST-0001",
        "officer": {"collar_number": "TV0001", "name": "PC Test Officer", "email": "pc.test@police.example"},
        "subject": {
            "given_name": "Sam",
            "family_name": "Synthetic",
            "date_of_birth": years_ago(30),
            "sex": "female",
            "ethnicity": "W1",
            "address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"},
            "phone": "07700 900001",
            "email": "sam.synthetic@person.example",
            "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": False},
        },
        "checks": {"identity_confirmed": True, "pnc_checked": True, "niche_checked": True},
        "previous_diversions": 0,
        "consent_to_share": True,
    }
    return merge(body, overrides)


def youth_referral(**overrides: Any) -> dict[str, Any]:
    body = adult_referral()
    body.pop("body_worn_video_reference")
    body["subject"]["date_of_birth"] = years_ago(15)
    body["guardian"] = {"name": "Pat Synthetic", "relationship": "parent", "phone": "07700 900002"}
    body["checks"]["guardian_contacted"] = True
    return merge(body, overrides)


def merge(body: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge overrides; a value of ``REMOVE`` deletes the key."""
    result = copy.deepcopy(body)
    for key, value in overrides.items():
        if value is REMOVE:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


class _Remove:
    def __repr__(self) -> str:
        return "REMOVE"


REMOVE: Any = _Remove()
