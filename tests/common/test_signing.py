"""Our Standard Webhooks signatures verify with the public `standardwebhooks` package, and back."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import standardwebhooks
from standardwebhooks import Webhook

from diversion_common.signing import InvalidSignature, new_secret, sign_headers, verify

BODY = json.dumps({"type": "referral.created", "data": {"case_id": "c-1"}}).encode()


def test_a_provider_using_standardwebhooks_verifies_our_message_unchanged():
    secret = new_secret()
    headers = sign_headers([secret], "msg_1", BODY)
    assert Webhook(secret).verify(BODY, headers) == json.loads(BODY)


def test_during_a_rotation_either_secret_verifies():
    old, new = new_secret(), new_secret()
    headers = sign_headers([old, new], "msg_2", BODY)
    assert Webhook(old).verify(BODY, headers)
    assert Webhook(new).verify(BODY, headers)


def test_we_verify_what_standardwebhooks_signs():
    secret = new_secret()
    now = datetime.now(UTC)
    signed = Webhook(secret).sign("msg_3", now, BODY.decode())
    headers = {"webhook-id": "msg_3", "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signed}
    assert verify([new_secret(), secret], headers, BODY) == "msg_3"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h, b: (h, b + b" "),
        lambda h, b: ({**h, "webhook-id": "msg_other"}, b),
        lambda h, b: ({**h, "webhook-timestamp": str(int(h["webhook-timestamp"]) + 1)}, b),
        lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b),
        lambda h, b: ({**h, "webhook-signature": "v1,AAAA"}, b),
    ],
)
def test_any_change_breaks_the_signature(tamper):
    secret = new_secret()
    headers, body = tamper(sign_headers([secret], "msg_4", BODY), BODY)
    with pytest.raises(InvalidSignature):
        verify([secret], headers, body)


def test_an_old_message_is_refused():
    secret = new_secret()
    headers = sign_headers([secret], "msg_5", BODY, timestamp=int(time.time()) - 600)
    with pytest.raises(InvalidSignature):
        verify([secret], headers, BODY)


def test_a_wrong_secret_is_refused():
    headers = sign_headers([new_secret()], "msg_6", BODY)
    with pytest.raises(InvalidSignature):
        verify([new_secret()], headers, BODY)


@pytest.mark.parametrize(
    "timestamp",
    ["9" * 400, "-" + "9" * 400, "1e400", "١٧٠٠٠٠٠٠٠٠", "１７００００００００", "+1700000000", " 1700000000", "1_700_000_000", "1700000000\n"],
)
def test_a_timestamp_that_is_not_plain_ascii_seconds_is_an_invalid_signature_never_an_overflow(timestamp):
    secret = new_secret()
    headers = {**sign_headers([secret], "msg_6", BODY), "webhook-timestamp": timestamp}
    with pytest.raises(InvalidSignature):
        verify([secret], headers, BODY)


def test_signing_and_verifying_are_the_standardwebhooks_packages(monkeypatch):
    """Ours is only the wrapper (several secrets, strict timestamps): the HMAC is the package's."""
    secret = new_secret()
    monkeypatch.setattr(standardwebhooks.Webhook, "sign", lambda self, msg_id, timestamp, data: "v1,ZnJvbSB0aGUgcGFja2FnZQ==")
    headers = sign_headers([secret], "msg_7", BODY)
    assert headers["webhook-signature"] == "v1,ZnJvbSB0aGUgcGFja2FnZQ=="
    assert verify([secret], headers, BODY) == "msg_7"  # the package's verify signs with the same (patched) sign


@pytest.mark.parametrize("signature", ["v1", "v1,not base64!", "v1,a,b", "", " "])
def test_a_malformed_signature_list_is_an_invalid_signature_not_an_error(signature):
    secret = new_secret()
    headers = {**sign_headers([secret], "msg_8", BODY), "webhook-signature": signature}
    with pytest.raises(InvalidSignature):
        verify([secret], headers, BODY)


def test_a_body_that_is_not_utf8_is_an_invalid_signature():
    secret = new_secret()
    with pytest.raises(InvalidSignature):
        verify([secret], sign_headers([secret], "msg_9", BODY), b"\xff\xfe")
