"""The fake outside party speaks HTTP as a real server does.

The soak kills delivery workers at random; one killed after sending a request's head and before
its body left a request the fake recorded as a delivery it could not verify (the soak failed on
it once on PostgreSQL). A real server never hands an incomplete request to its application.
"""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from support.webhook_receiver import WebhookReceiver


def test_a_request_whose_body_never_arrives_is_not_received():
    receiver = WebhookReceiver(["whsec_" + "A" * 32]).start()
    try:
        address = urlsplit(receiver.url)
        with socket.create_connection((address.hostname, address.port)) as sender:
            sender.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nwebhook-id: msg_cut\r\n\r\n{\"data\":")
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and not receiver.received:
            time.sleep(0.05)
        assert receiver.received == []
    finally:
        receiver.stop()
