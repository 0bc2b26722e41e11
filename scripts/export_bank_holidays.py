"""Write referral_api/lifecycle/bank_holidays.py: England and Wales's bank holidays, from `holidays`.

The services read the dates from that module rather than from the library at run time: the
library's country package imports all its 279 countries to give one (about 11 MB of
referral_api's memory: docs/PERFORMANCE.md, "Memory"). The library stays the source:
tests/referral_api/unit/test_bank_holidays.py fails when the module and the library disagree
(after an upgrade that adds a proclaimed holiday, say); this script writes it again.
"""

from __future__ import annotations

import sys
from pathlib import Path

from referral_api.lifecycle.programme import library_bank_holidays

TARGET = Path(__file__).resolve().parents[1] / "services/referral_api/referral_api/lifecycle/bank_holidays.py"
FIRST_YEAR, LAST_YEAR = 2020, 2040


def render() -> str:
    days = sorted(library_bank_holidays(range(FIRST_YEAR, LAST_YEAR + 1)))
    lines = [
        '"""England and Wales\'s bank holidays, written by scripts/export_bank_holidays.py from the `holidays`',
        'library; tests/referral_api/unit/test_bank_holidays.py checks they agree. Do not edit."""',
        "",
        "from datetime import date",
        "",
        f"FIRST_YEAR, LAST_YEAR = {FIRST_YEAR}, {LAST_YEAR}",
        "BANK_HOLIDAYS = frozenset({",
        *[f"    date({day.year}, {day.month}, {day.day})," for day in days],
        "})",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
