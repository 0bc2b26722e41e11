"""The shared delivery rules: no header a server sends, and no length of outage, makes them raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from diversion_common.webhooks.policy import (
    LONGEST_RETRY_AFTER_SECONDS,
    CircuitPolicy,
    Outcome,
    RetryPolicy,
    classify,
    parse_retry_after,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("000030", 30.0),
        ("Tue, 24 Nov 2026 12:01:00 GMT", 60.0),
        ("Tue, 24 Nov 2026 12:01:00 -0000", 60.0),  # no zone given: UTC
        ("Tue, 24 Nov 2026 11:00:00 GMT", 0.0),  # in the past: now
    ],
)
def test_both_forms_of_retry_after_are_read(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


@pytest.mark.parametrize(
    "value",
    [None, "", "   ", "²", "³⁴", "٣", "１２", "-5", "1.5", "1e3", "soon", "Tue, 99 Nov 2026 12:01:00 GMT",
     "Mon, 01 Jan 99999 00:00:00 GMT", "\x00", "0x10", "12 s", "∞", "NaN"],
)
def test_a_value_in_neither_form_is_ignored_without_raising(value):
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize("value", ["9" * 400, "1" + "0" * 30, "9999999999", "999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_huge_wait_is_cut_to_a_finite_one_that_can_be_added_to_a_time(value):
    seconds = parse_retry_after(value, NOW)
    assert seconds == LONGEST_RETRY_AFTER_SECONDS
    assert NOW + timedelta(seconds=seconds) > NOW


def test_the_retry_policy_caps_what_retry_after_asks_for():
    policy = RetryPolicy(max_retry_after_seconds=3600)
    assert policy.delay(1, parse_retry_after("9" * 400, NOW)) == timedelta(hours=1)


def test_answers_are_classified():
    assert classify(None) is Outcome.retry
    assert classify(204) is Outcome.delivered
    assert [classify(s) for s in (408, 429, 500, 503)] == [Outcome.retry] * 4
    assert [classify(s) for s in (301, 400, 401, 404, 410)] == [Outcome.rejected] * 5


def test_the_default_schedule_spans_about_a_day_then_ends():
    policy = RetryPolicy()
    assert timedelta(hours=20) < policy.total_schedule() < timedelta(hours=30)
    assert policy.delay(24) is None
    assert timedelta(seconds=0.5) <= policy.delay(1) <= timedelta(seconds=1)


def test_a_long_schedule_or_outage_never_overflows():
    assert RetryPolicy(max_attempts=5000).delay(4000) <= timedelta(hours=2)
    assert RetryPolicy(max_attempts=5000).total_schedule() > timedelta(days=300)
    assert CircuitPolicy().pause_after(100_000) == timedelta(minutes=15)


def test_the_circuit_pauses_after_the_threshold_doubling_to_its_cap():
    policy = CircuitPolicy(failure_threshold=5, pause_seconds=30, max_pause_seconds=900)
    assert policy.pause_after(4) is None and not policy.is_probing(4)
    assert [policy.pause_after(n).total_seconds() for n in (5, 6, 7, 10)] == [30, 60, 120, 900]
    assert policy.is_probing(5)
