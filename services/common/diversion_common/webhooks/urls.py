"""Where webhooks may be sent: https to a public host; this machine only in development.

``WebhookUrl`` checks the host as written (any spelling of an address, internal
names; ``targets.py``) and refuses plain http except to loopback. Whether loopback
itself is allowed is a service setting (``<SERVICE>_ALLOW_LOOPBACK_WEBHOOKS``, off
by default, on in ``make run`` and the tests), so the route that saves a URL asks
``must_allow_loopback`` too. Names are checked again, by what they resolve to, at
every delivery (``transport.py``).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, AnyHttpUrl

from diversion_common.problems import FieldError, ValidationFailed
from diversion_common.webhooks.targets import LOOPBACK, host_refusal

LOOPBACK_REFUSED = "must not be this machine (loopback is allowed only in development)"


def _https_to_a_public_host(url: AnyHttpUrl | None) -> AnyHttpUrl | None:
    # Case data travels in these messages: only TLS, only to the outside world.
    if url is None:
        return url
    refusal = host_refusal(url.host or "")
    if refusal == LOOPBACK:
        return url  # allowed or not by the service's setting: must_allow_loopback
    if refusal is not None:
        raise ValueError(f"must be a public host (this one is {refusal})")
    if url.scheme != "https":
        raise ValueError("must be https")
    return url


WebhookUrl = Annotated[AnyHttpUrl, AfterValidator(_https_to_a_public_host)]


def is_loopback(url: AnyHttpUrl | str) -> bool:
    url = url if isinstance(url, AnyHttpUrl) else AnyHttpUrl(url)
    return host_refusal(url.host or "") == LOOPBACK


def must_allow_loopback(url: AnyHttpUrl | None, *, allowed: bool, pointer: str) -> None:
    """A 422 naming ``pointer`` when ``url`` is this machine and the service's setting does not allow it."""
    if url is not None and not allowed and is_loopback(url):
        raise ValidationFailed("1 field(s) are not valid", errors=[FieldError(pointer=pointer, detail=LOOPBACK_REFUSED)])
