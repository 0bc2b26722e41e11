"""Where webhooks may be sent: an https URL, or plain http to this very machine."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl

_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _https_unless_loopback(url: AnyHttpUrl | None) -> AnyHttpUrl | None:
    # Case data travels in these messages: only TLS, except to this very machine (local runs, tests).
    if url is not None and url.scheme != "https" and (url.host or "") not in _LOOPBACK_HOSTS:
        raise ValueError("must be https (plain http only to this machine, for local runs)")
    return url


WebhookUrl = Annotated[AnyHttpUrl, AfterValidator(_https_unless_loopback)]
