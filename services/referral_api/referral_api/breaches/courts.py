"""The magistrates' courts an adult's breach request goes to, and which court hears which district.

An adult's breach request is addressed to the magistrates' court for the encounter's district
(issue 15). The seed decks name no courts, so the table below is a plausible default: each
district of Thames Valley and Hampshire (diversion_common/reference.py) goes to its local
magistrates' court:

- Reading, West Berkshire, Wokingham, Bracknell Forest -> Reading
- Slough, Windsor & Maidenhead, South Bucks -> Slough
- Milton Keynes -> Milton Keynes
- Wycombe, Chiltern, Aylesbury Vale -> High Wycombe
- Oxford, Cherwell, South Oxfordshire, Vale of White Horse, West Oxfordshire -> Oxford
- Portsmouth, Havant, Fareham, Gosport, East Hampshire -> Portsmouth
- Southampton, Eastleigh, Test Valley, New Forest, Winchester -> Southampton
- Basingstoke & Deane, Hart, Rushmoor -> Basingstoke

Court lists change (courts close, districts are reassigned), so any entry can be replaced
without a release: REFERRAL_API_DISTRICT_COURTS, a JSON object of district code to court
code (referral_api/config.py), checked when the service starts. Pure: no I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from diversion_common.reference import DISTRICTS


@dataclass(frozen=True)
class Court:
    code: str  # stable: it is stored on court clients and breach requests
    name: str


COURTS: dict[str, Court] = {
    court.code: court
    for court in (
        Court("reading-magistrates", "Reading Magistrates' Court"),
        Court("slough-magistrates", "Slough Magistrates' Court"),
        Court("milton-keynes-magistrates", "Milton Keynes Magistrates' Court"),
        Court("high-wycombe-magistrates", "High Wycombe Magistrates' Court"),
        Court("oxford-magistrates", "Oxford Magistrates' Court"),
        Court("portsmouth-magistrates", "Portsmouth Magistrates' Court"),
        Court("southampton-magistrates", "Southampton Magistrates' Court"),
        Court("basingstoke-magistrates", "Basingstoke Magistrates' Court"),
    )
}

CourtCode = StrEnum("CourtCode", {code.replace("-", "_"): code for code in COURTS})  # type: ignore[misc]

_DISTRICTS_BY_COURT: dict[str, tuple[str, ...]] = {
    "reading-magistrates": ("reading", "west-berkshire", "wokingham", "bracknell-forest"),
    "slough-magistrates": ("slough", "windsor-and-maidenhead", "south-bucks"),
    "milton-keynes-magistrates": ("milton-keynes",),
    "high-wycombe-magistrates": ("wycombe", "chiltern", "aylesbury-vale"),
    "oxford-magistrates": ("oxford", "cherwell", "south-oxfordshire", "vale-of-white-horse", "west-oxfordshire"),
    "portsmouth-magistrates": ("portsmouth", "havant", "fareham", "gosport", "east-hampshire"),
    "southampton-magistrates": ("southampton", "eastleigh", "test-valley", "new-forest", "winchester"),
    "basingstoke-magistrates": ("basingstoke-and-deane", "hart", "rushmoor"),
}

DEFAULT_DISTRICT_COURTS: dict[str, str] = {
    district: court for court, districts in _DISTRICTS_BY_COURT.items() for district in districts
}


class UnknownDistrict(LookupError):
    pass


def check_district_courts(overrides: Mapping[str, str]) -> dict[str, str]:
    """The overrides as given, if every key is a district and every value a court; else ValueError naming them all."""
    problems = [f"unknown district {district!r}" for district in overrides if district not in DISTRICTS]
    problems += [f"unknown court {court!r} (for {district!r})" for district, court in overrides.items() if court not in COURTS]
    if problems:
        raise ValueError(f"{'; '.join(problems)}. Courts: {', '.join(COURTS)}")
    return dict(overrides)


def court_for_district(district: str, overrides: Mapping[str, str] | None = None) -> Court:
    """The magistrates' court that hears ``district``'s cases: the override's, else the default's."""
    code = (overrides or {}).get(district) or DEFAULT_DISTRICT_COURTS.get(district)
    if code is None:
        raise UnknownDistrict(f"no court for unknown district {district!r}")
    return COURTS[code]
