"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways.

We sign what we send to providers and verify what providers send us with the
same scheme: ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and
``webhook-signature`` = space-separated ``v1,<base64 HMAC-SHA256>`` over
``"{id}.{timestamp}.{body}"``, keyed with the base64 secret after ``whsec_``.
Several secrets sign at once while a rotation overlaps.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
# Unix seconds in plain ASCII digits, as the standard sends them. int() alone would take
# "١٧٠٠…", "+17…", "1_700…" or 400 digits (whose distance from now overflows a float).
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class InvalidSignature(Exception):
    """The message is not signed with a secret we hold, or is outside the time window."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    return base64.b64decode(encoded + "=" * (-len(encoded) % 4))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def sign_headers(secrets_in_use: Iterable[str], message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signatures = " ".join(signature(secret, message_id, timestamp, body) for secret in secrets_in_use)
    if not signatures:
        raise ValueError("no signing secret")
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signatures}


def verify(secrets_in_use: Iterable[str], headers: dict[str, str], body: bytes, now: float | None = None) -> str:
    """Return the message id of a correctly signed, timely message; raise otherwise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp_text = lowered.get("webhook-timestamp")
    presented = lowered.get("webhook-signature")
    if not message_id or not timestamp_text or not presented:
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    if not _TIMESTAMP.fullmatch(timestamp_text):
        raise InvalidSignature("webhook-timestamp must be Unix seconds in ASCII digits")
    timestamp = int(timestamp_text)
    now = time.time() if now is None else now
    if abs(now - timestamp) > TOLERANCE_SECONDS:
        raise InvalidSignature("webhook-timestamp is outside the tolerance")
    offered = [s.split(",", 1)[1] for s in presented.split(" ") if s.startswith("v1,")]
    for secret in secrets_in_use:
        try:
            expected = signature(secret, message_id, timestamp, body).split(",", 1)[1]
        except (binascii.Error, ValueError):
            continue
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return message_id
    raise InvalidSignature("no valid signature")
