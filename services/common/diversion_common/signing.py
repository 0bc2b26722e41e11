"""Standard Webhooks signatures (https://www.standardwebhooks.com), both ways, by the
`standardwebhooks` package.

We sign what we send (to providers, police, courts, YJUs) and verify what providers send
us with the same scheme. What is ours here is only what the package does not do: several
secrets at once while a rotation overlaps, and a stricter reading of ``webhook-timestamp``
(the package takes anything ``float()`` takes, "١٧٠٠…" and "1e400" included).
"""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError, WebhookVerificationError

SECRET_PREFIX = "whsec_"
# Unix seconds in plain ASCII digits, as the standard sends them.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class InvalidSignature(Exception):
    """The message is not signed with a secret we hold, or is outside the time window."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def sign_headers(secrets_in_use: Iterable[str], message_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three headers, with one ``v1,`` signature per secret in use."""
    at = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    signatures = " ".join(Webhook(secret).sign(message_id, at, body.decode()) for secret in secrets_in_use)
    if not signatures:
        raise ValueError("no signing secret")
    return {"webhook-id": message_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signatures}


def verify(secrets_in_use: Iterable[str], headers: dict[str, str], body: bytes) -> str:
    """Return the message id of a correctly signed, timely message; raise otherwise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, timestamp = lowered.get("webhook-id"), lowered.get("webhook-timestamp")
    if not message_id or not timestamp or not lowered.get("webhook-signature"):
        raise InvalidSignature("missing webhook-id, webhook-timestamp or webhook-signature")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature("webhook-timestamp must be Unix seconds in ASCII digits")
    why = "no valid signature"
    for secret in secrets_in_use:
        try:
            Webhook(secret).verify(body, lowered, json_parse=False)
            return message_id
        except WebhookVerificationError as error:
            why = "webhook-timestamp is outside the tolerance" if "timestamp" in str(error) else why
        except (ValueError, EmptyWebhookSecretError):
            # A malformed signature list ("v1" with no comma, bad base64), a body that is not UTF-8, a broken secret.
            pass
    raise InvalidSignature(why)
