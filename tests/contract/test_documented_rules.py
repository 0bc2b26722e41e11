"""Rules the server enforces are stated in its OpenAPI document (issue 23 §1.7), so a client
built from the document does not learn them from a 422. No database."""

from __future__ import annotations

from typing import Any

import pytest

from referral_api.lifecycle.breach_requests import CourtOutcome, YjuOutcome
from referral_api.main import create_app as create_referral_api


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_referral_api().openapi()


def schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    return document["components"]["schemas"][name]


def test_consent_and_the_checks_before_referral_must_be_true(document):
    referral = schema(document, "ReferralCreate")
    assert referral["properties"]["consent_to_share"]["const"] is True
    checks = schema(document, "Checks")["properties"]
    for name in ("identity_confirmed", "pnc_checked", "niche_checked"):
        assert checks[name]["const"] is True, name
    assert "under-18" in checks["guardian_contacted"]["description"]  # true only for the young: not a const


def test_each_body_s_outcomes_are_named(document):
    described = schema(document, "OutcomeRequest")["properties"]["outcome"]["description"]
    for outcome in [*CourtOutcome, *YjuOutcome]:
        assert outcome.value in described, outcome


def test_a_hearing_and_the_cursor_say_what_they_take(document):
    assert "submitted" in schema(document, "HearingRequest")["properties"]["hearing_at"]["description"]
    [cursor] = [p for p in document["paths"]["/v1/referrals"]["get"]["parameters"] if p["name"] == "cursor"]
    assert "`0`" in cursor["description"]
