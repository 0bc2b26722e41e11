"""What a court's step on a breach request may say: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from diversion_common.contracts import CLOCK_ALLOWANCE
from referral_api.lifecycle.breach_requests import hearing_refusal

SUBMITTED = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def test_a_hearing_in_1999_is_refused():
    refusal = hearing_refusal(SUBMITTED, datetime(1999, 5, 1, 10, 0, tzinfo=UTC))
    assert refusal is not None and "submitted" in refusal


def test_a_hearing_after_submission_is_taken_and_the_clock_allowance_holds():
    assert hearing_refusal(SUBMITTED, SUBMITTED + timedelta(days=30)) is None
    assert hearing_refusal(SUBMITTED, SUBMITTED - CLOCK_ALLOWANCE) is None
    assert hearing_refusal(SUBMITTED, SUBMITTED - CLOCK_ALLOWANCE - timedelta(seconds=1)) is not None


@given(st.timedeltas(min_value=timedelta(days=-20000), max_value=timedelta(days=20000)))
def test_refused_exactly_when_before_submission(offset):
    refused = hearing_refusal(SUBMITTED, SUBMITTED + offset) is not None
    assert refused == (offset < -CLOCK_ALLOWANCE)
