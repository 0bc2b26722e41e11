"""Fixtures for end-to-end tests: both services as real processes, workers, a fake provider."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.delivery_system import DeliverySystem
from support.two_services import System, build_system


@pytest.fixture
def system(fresh_database, tmp_path) -> Iterator[System]:
    services = build_system(
        fresh_database("referral_api"),
        fresh_database("provider_gateway"),
        tmp_path,
        {"REFERRAL_API_RELAY_POLL_SECONDS": "0.2", "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2"},
    )
    yield services
    services.stop()


@pytest.fixture
def delivery_system(system: System, tmp_path) -> Iterator[DeliverySystem]:
    services = DeliverySystem.around(system, tmp_path)
    yield services
    services.close()
