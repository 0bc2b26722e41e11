"""Webhook payloads are made from the contract's models (diversion_common/contracts.py):
a message that does not fit its model is never made, so none goes out malformed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from diversion_common.contracts import CaseStatusChangedToPolice, ReferralCreated
from provider_gateway.deliveries.service import referral_created_payload
from referral_api.callbacks.service import status_changed_payload

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
PROVIDER_PAYLOAD = {
    "case_id": str(uuid.uuid4()),
    "pathway": "adult_deferred_summons",
    "district": "reading",
    "force": "thames-valley",
    "encounter_date": "2026-01-05",
    "drugs": [{"name": "cannabis", "class": "B"}],
    "subject": {
        "given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "1990-01-01", "sex": "female",
        "address": {"line1": "1 Example Road", "line2": None, "town": "Reading", "postcode": "RG1 2AB"},
        "phone": "07700 900001", "email": None,
        "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": False},
    },
    "guardian": None,
    "out_of_hours_appointments": False,
}


def test_a_referral_webhook_is_the_contracts_model_with_the_referral_unchanged():
    payload = referral_created_payload(PROVIDER_PAYLOAD, "http://gateway.example/v1/provider/referrals/x", NOW)
    assert ReferralCreated.model_validate(payload).type == "referral.created"
    assert payload["data"] == {**PROVIDER_PAYLOAD, "links": {"status": "http://gateway.example/v1/provider/referrals/x"}}


@pytest.mark.parametrize("broken", [{"subject": None}, {"case_id": "not-a-uuid"}, {"drugs": [{"name": "cannabis"}]}])
def test_a_referral_that_does_not_fit_the_contract_is_never_made_into_a_webhook(broken):
    with pytest.raises(ValidationError):
        referral_created_payload({**PROVIDER_PAYLOAD, **broken}, "http://gateway.example/x", NOW)


def test_what_the_contract_does_not_name_is_not_sent_to_a_provider():
    held = {**PROVIDER_PAYLOAD, "subject": {**PROVIDER_PAYLOAD["subject"], "ethnicity": "W1"}, "officer": "PC 123"}
    data = referral_created_payload(held, "http://gateway.example/x", NOW)["data"]
    assert "officer" not in data and "ethnicity" not in data["subject"]


def test_a_status_change_webhook_is_the_contracts_model():
    case_id = uuid.uuid4()
    payload = status_changed_payload(case_id=case_id, police_reference="TV-1", status="completed", version=3, now=NOW)
    message = CaseStatusChangedToPolice.model_validate(payload)
    assert (message.data.case_id, message.data.status, message.data.version) == (case_id, "completed", 3)


def test_a_status_change_without_a_version_is_never_made_into_a_webhook():
    with pytest.raises(ValidationError):
        status_changed_payload(case_id=uuid.uuid4(), police_reference="TV-1", status="completed", version=None, now=NOW)
