"""An unexpected error: a 500 problem with our ids, logged as its type and our stack only;
a path parameter a client typed (it can be a name) is never logged."""

from __future__ import annotations

import json
import uuid

from fastapi.testclient import TestClient

from diversion_common.observability import rendered
from referral_api.cases import service as cases_service
from referral_api.config import Settings
from referral_api.main import create_app

SECRET = "Zebedee Quixotic born 2001-02-03"
CALLERS_ID = str(uuid.uuid4())


def lines(records) -> list[dict]:
    return [rendered(r) for r in records]


def test_an_unexpected_error_is_a_500_problem_with_ids_and_logs_no_message(referral_db, police, request, monkeypatch):
    def fails(*_args, **_kwargs):
        raise RuntimeError(SECRET)

    monkeypatch.setattr(cases_service, "list_cases", fails)
    app = create_app(Settings(database_url=referral_db, gateway_api_key=None, run_delivery_worker=False))
    diversion_logs = request.getfixturevalue("diversion_logs")  # after the app has set up its logging
    # raise_server_exceptions: an error that escaped the app would reach the server, which prints
    # its traceback with the message; ours must answer it instead.
    with TestClient(app, raise_server_exceptions=True) as client:
        response = client.get("/v1/referrals", headers={**police, "X-Request-ID": CALLERS_ID})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    request_id = response.headers["X-Request-ID"]
    assert request_id == CALLERS_ID  # even on a 500: the caller can tell us which call failed
    assert SECRET not in response.text

    logged = lines(diversion_logs)
    assert SECRET not in json.dumps(logged)
    [error] = [line for line in logged if line["message"] == "unhandled error"]
    assert error["request_id"] == request_id
    assert error["error_type"] == "RuntimeError"
    assert error["route"] == "/v1/referrals"
    # Our frames only: the route that called the failing function, no library frames.
    assert any(frame.startswith("referral_api.cases.routes:list_referrals:") for frame in error["stack"])
    assert not any("test_error_logging" in frame for frame in error["stack"])
    [access] = [line for line in logged if line["message"] == "request"]
    assert access["status"] == 500 and access["request_id"] == request_id


def test_a_path_parameter_that_is_not_an_id_is_never_logged(api, police, diversion_logs):
    name = "Zebedee Quixotic"
    assert api.get(f"/v1/referrals/{name}").status_code == 401
    assert api.get(f"/v1/referrals/{name}", headers=police).status_code == 422
    assert api.post(f"/v1/referrals/{name}/withdraw", json={"reason": "other"}, headers=police).status_code == 422
    logged = lines(diversion_logs)
    assert [line["status"] for line in logged if line["message"] == "request"] == [401, 422, 422]
    assert "Zebedee" not in json.dumps(logged)


def test_a_valid_id_in_the_path_is_logged(api, police, diversion_logs):
    case_id = str(uuid.uuid4())
    assert api.get(f"/v1/referrals/{case_id}", headers=police).status_code == 404
    [access] = [line for line in lines(diversion_logs) if line["message"] == "request"]
    assert access["path_params"] == {"case_id": case_id}
