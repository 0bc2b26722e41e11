"""Each call is logged once, attributably, with ids and no personal data."""

from __future__ import annotations

import json
import uuid

import pytest

from diversion_common.observability import JsonFormatter
from support.referrals import adult_referral


@pytest.fixture
def access_records(diversion_logs):
    return diversion_logs


def client_id_of(headers: dict[str, str]) -> str:
    return str(uuid.UUID(hex=headers["Authorization"].removeprefix("Bearer ").split("_")[1]))


def test_a_call_is_logged_with_route_status_client_and_ids(api, police, access_records):
    response = api.post(
        "/v1/referrals?note=Zebedee",
        json=adult_referral(subject={"family_name": "Quixotic"}),
        headers={**police, "X-Request-ID": "req-42", "X-Correlation-ID": "corr-42"},
    )
    assert response.status_code == 201
    [record] = [r for r in access_records if r.name == "diversion.access"]
    line = json.loads(JsonFormatter().format(record))
    assert line["route"] == "/v1/referrals"
    assert line["method"] == "POST"
    assert line["status"] == 201
    assert line["client_id"] == client_id_of(police)
    # Our own request id; the client's ids are kept as the correlation id.
    assert line["request_id"] == response.headers["X-Request-ID"] != "req-42"
    uuid.UUID(line["request_id"])
    assert line["correlation_id"] == response.headers["X-Correlation-ID"] == "corr-42"
    assert "Zebedee" not in json.dumps(line) and "Quixotic" not in json.dumps(line)


def test_an_unauthenticated_call_is_logged_without_a_client(api, access_records):
    api.get("/v1/referrals")
    [record] = [r for r in access_records if r.name == "diversion.access"]
    assert record.status == 401
    assert record.client_id is None


def test_a_forged_request_id_is_replaced(api, police, access_records):
    response = api.get("/v1/referrals", headers={**police, "X-Request-ID": "bad id\nwith newline"})
    assert response.headers["X-Request-ID"] != "bad id\nwith newline"
    uuid.UUID(response.headers["X-Request-ID"])


def test_a_read_names_the_case_it_read(api, police, access_records):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    api.get(f"/v1/referrals/{case['id']}", headers=police)
    line = json.loads(JsonFormatter().format(access_records[-1]))
    assert line["route"] == "/v1/referrals/{case_id}"
    assert line["path_params"] == {"case_id": case["id"]}
    assert line["client_id"] == client_id_of(police)
