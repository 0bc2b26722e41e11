"""The district -> magistrates' court table: complete, overridable, and strict about overrides. No database."""

from __future__ import annotations

import pytest
from diversion_common.settings import InvalidSetting

from diversion_common.reference import DISTRICTS
from referral_api.breaches.courts import (
    COURTS,
    DEFAULT_DISTRICT_COURTS,
    CourtCode,
    UnknownDistrict,
    check_district_courts,
    court_for_district,
)
from referral_api.config import Settings


def test_every_district_has_a_court_by_default():
    assert set(DEFAULT_DISTRICT_COURTS) == set(DISTRICTS)
    assert {court_for_district(district).code for district in DISTRICTS} == set(COURTS)


@pytest.mark.parametrize(
    ("district", "court"),
    [
        ("reading", "Reading Magistrates' Court"),
        ("windsor-and-maidenhead", "Slough Magistrates' Court"),
        ("aylesbury-vale", "High Wycombe Magistrates' Court"),
        ("vale-of-white-horse", "Oxford Magistrates' Court"),
        ("gosport", "Portsmouth Magistrates' Court"),
        ("winchester", "Southampton Magistrates' Court"),
        ("basingstoke-and-deane", "Basingstoke Magistrates' Court"),
        ("milton-keynes", "Milton Keynes Magistrates' Court"),
    ],
)
def test_the_default_is_the_local_magistrates_court(district, court):
    assert court_for_district(district).name == court


def test_court_codes_are_the_enum_a_request_is_validated_with():
    assert {code.value for code in CourtCode} == set(COURTS)
    assert CourtCode("reading-magistrates") == "reading-magistrates"
    with pytest.raises(ValueError):
        CourtCode("atlantis-magistrates")


def test_an_override_replaces_only_its_own_district():
    overrides = {"wokingham": "slough-magistrates"}
    assert court_for_district("wokingham", overrides).code == "slough-magistrates"
    assert court_for_district("reading", overrides).code == "reading-magistrates"


def test_an_unknown_district_has_no_court():
    with pytest.raises(UnknownDistrict):
        court_for_district("atlantis")


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"atlantis": "reading-magistrates"}, "unknown district 'atlantis'"),
        ({"reading": "atlantis-magistrates"}, "unknown court 'atlantis-magistrates'"),
    ],
)
def test_a_bad_override_is_refused(overrides, named):
    with pytest.raises(ValueError, match=named):
        check_district_courts(overrides)


def test_the_setting_takes_json_from_the_environment(monkeypatch):
    monkeypatch.setenv("REFERRAL_API_DISTRICT_COURTS", '{"hart": "southampton-magistrates"}')
    settings = Settings()
    assert court_for_district("hart", settings.district_courts).code == "southampton-magistrates"
    assert Settings(_env_file=None).district_courts == {"hart": "southampton-magistrates"}


def test_a_bad_setting_stops_the_service_starting(monkeypatch):
    monkeypatch.setenv("REFERRAL_API_DISTRICT_COURTS", '{"reading": "atlantis-magistrates"}')
    with pytest.raises(InvalidSetting, match="REFERRAL_API_DISTRICT_COURTS: unknown court 'atlantis-magistrates'"):
        Settings()
    monkeypatch.setenv("REFERRAL_API_DISTRICT_COURTS", "not json")
    with pytest.raises(InvalidSetting, match="REFERRAL_API_DISTRICT_COURTS: is not valid JSON"):
        Settings()
