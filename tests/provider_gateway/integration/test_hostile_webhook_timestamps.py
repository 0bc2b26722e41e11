"""A provider's event with a hostile `webhook-timestamp` is a 401 invalid-signature problem:
never an overflow, never a 500, nothing logged as an error (docs/SECURITY.md, item 5)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
import uuid

import pytest

from diversion_common.credentials import Role
from support.gateway_flows import register_provider
from support.provider_events import event

# The signature check comes before any query: one database is enough.
pytestmark = pytest.mark.database_independent

HOSTILE_TIMESTAMPS = [
    "9" * 400,  # int() takes it; now - it overflowed a float
    "-" + "9" * 400,
    "1e400",
    "١٧٠٠٠٠٠٠٠٠",  # Arabic-Indic digits: int() reads them as a number
    "１７００００００００",  # full-width digits
    "+1700000000",
    " 1700000000",
    "1_700_000_000",
    "",
]


def signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    """A Standard Webhooks signature over any timestamp text, as a hostile client can compute one
    (the `standardwebhooks` package signs only real times)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


@pytest.mark.parametrize("timestamp", HOSTILE_TIMESTAMPS)
def test_a_hostile_webhook_timestamp_is_a_401_problem_and_logs_no_error(gateway, admin, issue_gateway_key, diversion_logs, timestamp):
    record = register_provider(gateway, admin)
    key = issue_gateway_key(Role.provider, provider_id=uuid.UUID(record["id"]))
    body = json.dumps(event("referral.accepted", str(uuid.uuid4()))).encode()
    webhook_id = f"evt_{uuid.uuid4().hex}"
    # Signed with the provider's real secret over the hostile timestamp, so only the timestamp is wrong.
    signed = signature(record["signing_secret"], webhook_id, timestamp, body) if timestamp.strip() else "v1,AAAA"
    headers = {
        **key,
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": timestamp.encode(),  # bytes: UTF-8 on the wire, as a hostile client may send
        "webhook-signature": signed,
    }

    response = gateway.post("/v1/provider/events", content=body, headers=headers)

    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/invalid-signature")
    assert timestamp.strip() == "" or timestamp not in response.text
    assert not [r for r in diversion_logs if r.levelno >= logging.ERROR]


def test_a_timely_timestamp_still_verifies(gateway, admin, issue_gateway_key):
    """The check refuses only what is not plain ASCII digits: a proper one goes on to the event's rules."""
    record = register_provider(gateway, admin)
    key = issue_gateway_key(Role.provider, provider_id=uuid.UUID(record["id"]))
    body = json.dumps(event("referral.accepted", str(uuid.uuid4()))).encode()
    timestamp = str(int(time.time()))
    headers = {
        **key,
        "Content-Type": "application/json",
        "webhook-id": "evt_timely",
        "webhook-timestamp": timestamp,
        "webhook-signature": signature(record["signing_secret"], "evt_timely", timestamp, body),
    }
    assert gateway.post("/v1/provider/events", content=body, headers=headers).status_code == 404  # no such case: past the signature
