"""Limits on abuse (docs/SECURITY.md, item 7): per client, per address, and the key before the body."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from diversion_common.credentials import Role
from diversion_common.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from referral_api.config import Settings
from referral_api.main import create_app
from support.referrals import adult_referral

# The limits are counted in memory, before any query: one database is enough.
pytestmark = pytest.mark.database_independent

AppFactory = Callable[..., TestClient]


@pytest.fixture
def limited_api(referral_db: str) -> Iterator[AppFactory]:
    """referral_api with the given limits; each call is a client from its own address."""
    clients: list[TestClient] = []
    app = None

    def make(address: str = "192.0.2.1", **limits: str) -> TestClient:
        nonlocal app
        if app is None:
            app = create_app(Settings(database_url=referral_db, gateway_api_key=None, run_delivery_worker=False, **limits))
            client = TestClient(app, raise_server_exceptions=False, client=(address, 40000)).__enter__()
        else:
            # The same app (and its counts), without running its lifespan again.
            client = TestClient(app, raise_server_exceptions=False, client=(address, 40000))
        clients.append(client)
        return client

    yield make
    if clients:
        clients[0].__exit__(None, None, None)


def assert_too_many(response, detail_word: str) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == PROBLEM_TYPE_BASE + "too-many-requests"
    assert detail_word in response.json()["detail"]
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_a_client_over_its_limit_gets_429_with_retry_after_and_another_client_does_not(limited_api, issue):
    api = limited_api(rate_limit_per_client="5/minute")
    police, other = issue(Role.police, force="thames-valley"), issue(Role.police, force="thames-valley")
    assert [api.get("/v1/referrals", headers=police).status_code for _ in range(5)] == [200] * 5
    assert_too_many(api.get("/v1/referrals", headers=police), "client")
    # Refused before the body is read or anything is written.
    assert_too_many(api.post("/v1/referrals", json=adult_referral(), headers=police), "client")
    assert api.get("/v1/referrals", headers=other).json()["items"] == []
    assert api.get("/health").status_code == 200


def test_an_address_over_its_limit_gets_429_whoever_calls_and_another_address_does_not(limited_api, issue):
    api = limited_api("192.0.2.1", rate_limit_per_address="4/minute")
    elsewhere = limited_api("198.51.100.7")
    police, other = issue(Role.police, force="thames-valley"), issue(Role.police, force="hampshire")
    statuses = [api.get("/v1/referrals", headers=key).status_code for key in (police, other, police, other)]
    assert statuses == [200] * 4
    assert_too_many(api.get("/v1/referrals", headers=other), "address")
    assert_too_many(api.get("/v1/referrals"), "address")  # no key at all: the same
    assert elsewhere.get("/v1/referrals", headers=police).status_code == 200
    # The liveness probe and the documents are never limited.
    assert api.get("/health").status_code == 200
    assert api.get("/openapi.json").status_code == 200


def test_wrong_keys_lock_the_address_out_even_for_a_right_key_until_the_window_passes(limited_api, issue):
    api = limited_api("192.0.2.1", rate_limit_failed_auth="3/minute")
    elsewhere = limited_api("198.51.100.7")
    police = issue(Role.police, force="thames-valley")
    wrong = {"Authorization": "Bearer dl_00000000000000000000000000000000_guess"}
    assert [api.get("/v1/referrals", headers=wrong).status_code for _ in range(3)] == [401] * 3
    assert_too_many(api.get("/v1/referrals", headers=wrong), "failed authentications")
    assert_too_many(api.get("/v1/referrals", headers=police), "failed authentications")
    # A missing key is not a wrong one; the lock-out is per address.
    assert elsewhere.get("/v1/referrals").status_code == 401
    assert elsewhere.get("/v1/referrals", headers=police).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"police_reference": "43/1/26", "subject": {', id="broken JSON"),
        pytest.param(b'{"police_reference": 7}', id="invalid referral"),
        pytest.param(b"[" + b"1," * 40000 + b"1]", id="over the limit"),
    ],
)
def test_without_a_key_any_body_is_401_and_not_parsed(api, body: bytes):
    # The key is checked before the body is read: no 400, 413 or 422 (with its field details).
    for headers in ({}, {"Authorization": "Bearer dl_00000000000000000000000000000000_guess"}):
        response = api.post("/v1/referrals", content=body, headers={**headers, "Content-Type": "application/json"})
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert "errors" not in response.json()


def test_the_internal_allowance_is_only_for_our_other_service(api, issue):
    batch = b'{"messages": [' + b",".join([b'{"padding": "' + b"x" * 1000 + b'"}'] * 200) + b"]}"  # ~200 KB
    assert len(batch) > Settings().max_body_bytes
    headers = {"Content-Type": "application/json"}
    # Unauthenticated: 401 before anything is read.
    assert api.post("/internal/v1/messages/batch", content=batch, headers=headers).status_code == 401
    # A police key may not post there at all, and gets no more than the public size.
    police = issue(Role.police, force="thames-valley")
    assert api.post("/internal/v1/messages/batch", content=batch, headers={**headers, **police}).status_code == 413
    # Our other service's key has the larger allowance: the batch is read, and refused for what it says.
    service = issue(Role.service)
    assert api.post("/internal/v1/messages/batch", content=batch, headers={**headers, **service}).status_code == 422
