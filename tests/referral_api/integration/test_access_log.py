"""Each call is logged once, attributably, with its request id and no personal data."""

from __future__ import annotations

import json
import uuid

import pytest

from diversion_common.observability import rendered
from support.referrals import adult_referral


@pytest.fixture
def access_lines(diversion_logs):
    """The access log's lines, as they are written (read when the test asks)."""

    class Lines:
        def __call__(self) -> list[dict]:
            return [rendered(r) for r in diversion_logs if r.name == "diversion.access"]

    return Lines()


def client_id_of(headers: dict[str, str]) -> str:
    return str(uuid.UUID(hex=headers["Authorization"].removeprefix("Bearer ").split("_")[1]))


def test_a_call_is_logged_with_route_status_client_and_its_request_id(api, police, access_lines):
    police_system_id = str(uuid.uuid4())
    response = api.post(
        "/v1/referrals?note=Zebedee",
        json=adult_referral(subject={"family_name": "Quixotic"}),
        headers={**police, "X-Request-ID": police_system_id},
    )
    assert response.status_code == 201
    [line] = access_lines()
    assert line["message"] == "request"
    assert line["route"] == "/v1/referrals"
    assert line["method"] == "POST"
    assert line["status"] == 201
    assert line["client_id"] == client_id_of(police)
    assert isinstance(line["duration_ms"], float)
    # The caller's id, as it is a UUID: the police system finds our line by its own id.
    assert line["request_id"] == response.headers["X-Request-ID"] == police_system_id
    assert "Zebedee" not in json.dumps(line) and "Quixotic" not in json.dumps(line)


def test_an_unauthenticated_call_is_logged_without_a_client(api, access_lines):
    response = api.get("/v1/referrals")
    [line] = access_lines()
    assert line["status"] == 401
    assert line["client_id"] is None
    assert line["request_id"] == response.headers["X-Request-ID"]


@pytest.mark.parametrize("sent", ["bad id\nwith newline", "Zebedee-Quixotic-2001-02-03", "req-42"])
def test_an_id_that_is_not_a_uuid_is_replaced_and_never_logged(api, police, access_lines, sent):
    """Only a UUID is taken: anything else could carry a name or a reference into our logs."""
    response = api.get("/v1/referrals", headers={**police, "X-Request-ID": sent})
    made = response.headers["X-Request-ID"]
    assert made != sent
    uuid.UUID(made)
    [line] = access_lines()
    assert line["request_id"] == made
    assert sent not in json.dumps(line)


def test_a_read_names_the_case_it_read(api, police, access_lines):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()
    api.get(f"/v1/referrals/{case['id']}", headers=police)
    line = access_lines()[-1]
    assert line["route"] == "/v1/referrals/{case_id}"
    assert line["path_params"] == {"case_id": case["id"]}
    assert line["client_id"] == client_id_of(police)
