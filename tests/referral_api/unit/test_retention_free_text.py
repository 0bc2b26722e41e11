"""What retention erases from a provider's facts: the text a person wrote, found from the contract. No database."""

from __future__ import annotations

import pytest

from diversion_common.contracts import EVENT_DATA_MODELS, ProviderEventType, free_text_fields
from referral_api.privacy.retention import without_free_text


def test_written_text_is_found_from_the_data_models_and_codes_are_not():
    assert free_text_fields(ProviderEventType.appointment_cancelled) == {"reason"}  # written by the provider's staff
    assert free_text_fields(ProviderEventType.referral_rejected) == {"note"}  # its reason is a code, kept
    assert free_text_fields(ProviderEventType.appointment_booked) == frozenset()


@pytest.mark.parametrize("event_type", list(ProviderEventType))
def test_every_written_field_of_every_event_is_blanked_and_nothing_else(event_type):
    fields = EVENT_DATA_MODELS[event_type].model_fields
    data = {name: f"Synthetic {name}" for name in fields}
    erased = without_free_text(event_type.value, data)
    assert erased.keys() == data.keys()
    assert {name for name, value in erased.items() if value is None} == free_text_fields(event_type) | ({"note"} & fields.keys())
