"""England and Wales's bank holidays: the written module agrees with the `holidays` library."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

from referral_api.lifecycle.bank_holidays import BANK_HOLIDAYS, FIRST_YEAR, LAST_YEAR
from referral_api.lifecycle.programme import is_bank_holiday, is_working_day, library_bank_holidays


def test_the_written_days_are_the_librarys() -> None:
    library = set(library_bank_holidays(range(FIRST_YEAR, LAST_YEAR + 1)))
    # On failure: `python scripts/export_bank_holidays.py` writes them again.
    assert BANK_HOLIDAYS == library


def test_a_year_outside_the_written_ones_asks_the_library() -> None:
    assert is_bank_holiday(date(LAST_YEAR + 1, 12, 25))
    assert is_bank_holiday(date(FIRST_YEAR - 1, 12, 26))
    assert not is_bank_holiday(date(LAST_YEAR + 1, 12, 20))
    assert not is_working_day(date(2026, 12, 28))  # Boxing Day falls on a Saturday: Monday is the holiday
    assert is_working_day(date(2026, 12, 29))


def test_the_service_does_not_load_the_library() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, referral_api.main; print('holidays' in sys.modules)"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout.strip()
    assert loaded == "False"
