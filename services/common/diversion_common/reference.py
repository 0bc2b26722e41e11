"""Reference data: the police forces and their districts (docs/DOMAIN.md, "Reference data").

Populations are kept for per-1,000 rates in reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class District:
    code: str
    name: str
    force: str
    population: int


def _code(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower().replace("&", "and")).strip("-")


_SEED = {
    "thames-valley": [
        ("Reading", 163_203), ("Milton Keynes", 268_607), ("Oxford", 154_327),
        ("Wycombe", 174_641), ("West Berkshire", 158_527), ("Vale of White Horse", 133_732),
        ("West Oxfordshire", 109_800), ("Slough", 149_112), ("Cherwell", 149_161),
        ("South Oxfordshire", 140_504), ("Aylesbury Vale", 199_448), ("Bracknell Forest", 121_676),
        ("South Bucks", 70_043), ("Windsor & Maidenhead", 150_906), ("Chiltern", 95_927),
        ("Wokingham", 167_979),
    ],
    "hampshire": [
        ("Portsmouth", 215_133), ("Southampton", 252_796), ("Winchester", 124_295),
        ("Havant", 125_813), ("Fareham", 116_339), ("Gosport", 85_283),
        ("Basingstoke & Deane", 175_729), ("Eastleigh", 131_819), ("Test Valley", 125_169),
        ("East Hampshire", 120_681), ("New Forest", 179_753), ("Hart", 96_293),
        ("Rushmoor", 63_215),
    ],
}

FORCES: dict[str, str] = {"thames-valley": "Thames Valley Police", "hampshire": "Hampshire Constabulary"}

DISTRICTS: dict[str, District] = {
    _code(name): District(_code(name), name, force, population)
    for force, districts in _SEED.items()
    for name, population in districts
}

ForceCode = StrEnum("ForceCode", {code.replace("-", "_"): code for code in FORCES})  # type: ignore[misc]
DistrictCode = StrEnum("DistrictCode", {code.replace("-", "_"): code for code in DISTRICTS})  # type: ignore[misc]
