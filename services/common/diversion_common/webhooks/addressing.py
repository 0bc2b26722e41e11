"""A message sent again goes only where it already went: a changed URL gets no old messages.

An endpoint's URL can be changed at any time, by anyone holding an admin key. If
redelivering an old message sent it to the endpoint's URL as it is now, changing
the URL and redelivering would hand every referral ever sent to whoever the new
URL belongs to. So each delivery keeps the SHA-256 of the URL it was last sent to
(``sent_to_sha256``, set by the worker at each try), and:

- an administrator's redelivery is refused (409 ``endpoint-url-changed``) unless
  the endpoint's URL is still that one (a URL changed back is that one again);
- a redelivery queued before the URL changed is not sent: the worker sets it
  aside (``dead``, ``endpoint_url_changed``) when it finds the URL different;
- a message still in its first schedule (never redelivered) follows the endpoint
  to its new URL, as a new message would: that is how an endpoint that moved, or
  a URL that was wrong, gets what is waiting for it.
"""

from __future__ import annotations

import hashlib

from diversion_common.database import utcnow
from diversion_common.problems import Conflict
from diversion_common.webhooks.tables import DeliveryFields, DeliveryStatus

URL_CHANGED = "endpoint_url_changed"


class EndpointUrlChanged(Conflict):
    slug = "endpoint-url-changed"
    title = "The endpoint's URL is not the one this message was sent to"


def url_sha256(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()


def went_to(delivery: DeliveryFields, url: str | None) -> bool:
    """Whether ``url`` is the one the delivery was last sent to (unknown: no)."""
    return url is not None and delivery.sent_to_sha256 is not None and delivery.sent_to_sha256 == url_sha256(url)


def must_go_where_it_went(delivery: DeliveryFields, current_url: str | None) -> None:
    """Refuse a redelivery unless the endpoint's URL is the one the message was last sent to."""
    if not went_to(delivery, current_url):
        raise EndpointUrlChanged(
            "the endpoint's URL has changed since this message was sent, and old messages do not follow a new URL: "
            "the receiver reads what it needs through the API",
            code=URL_CHANGED,
        )


def is_resend_elsewhere(delivery: DeliveryFields, url: str) -> bool:
    """A redelivery (a fresh schedule, ``attempts`` 0, of a message already sent) about to go to another URL.

    (A worker that died mid-try also leaves ``attempts`` 0 with a URL: that message may have
    reached it, so it is held back from a new URL as well.)
    """
    return delivery.attempts == 0 and delivery.sent_to_sha256 is not None and not went_to(delivery, url)


def set_aside(delivery: DeliveryFields) -> None:
    delivery.status = DeliveryStatus.dead.value
    delivery.last_error = URL_CHANGED
    delivery.updated_at = utcnow()


def sending_to(delivery: DeliveryFields, url: str) -> None:
    delivery.sent_to_sha256 = url_sha256(url)
