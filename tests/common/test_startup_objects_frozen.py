"""A started service leaves what it holds from start-up out of the garbage collector's full passes
(`gc.freeze`, diversion_common/start_up.py), and gives it back when it stops.

A full pass over a started service's objects paused the process for 50 to 85 ms under load; only
the objects made since start-up are scanned now (docs/PERFORMANCE.md, "Pauses")."""

from __future__ import annotations

import gc

import pytest
from fastapi.testclient import TestClient

from provider_gateway.config import Settings as GatewaySettings
from provider_gateway.main import create_app as create_gateway
from referral_api.config import Settings as ReferralSettings
from referral_api.main import create_app as create_referral_api

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize("service", ["referral_api", "provider_gateway"])
def test_a_started_service_keeps_its_start_up_objects_out_of_full_collections(service, fresh_database):
    url = fresh_database(service)
    if service == "referral_api":
        app = create_referral_api(ReferralSettings(database_url=url, gateway_api_key=None, run_delivery_worker=False, run_breach_scheduler=False))
    else:
        app = create_gateway(GatewaySettings(database_url=url, referral_api_key=None, run_delivery_worker=False))

    with TestClient(app) as client:
        frozen = gc.get_freeze_count()
        # The app, its routes and models, and every module loaded: far more than the test's own objects.
        assert frozen > 50_000
        assert client.get("/health/live").status_code == 200

    assert gc.get_freeze_count() == 0  # stopped: collectable again
