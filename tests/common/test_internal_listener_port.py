"""The internal listener shares its port only with the service's own workers (SO_REUSEPORT)."""

from __future__ import annotations

import socket

import pytest

from diversion_common.internal_listener import InternalListener, _bind
from support.processes import free_port


def test_workers_of_a_service_share_the_internal_port() -> None:
    listener = InternalListener("127.0.0.1", free_port())
    first, second = _bind(listener), _bind(listener)  # as two worker processes of `serve --workers 2` do
    try:
        first.listen()
        second.listen()
        assert first.getsockname() == second.getsockname()
    finally:
        first.close()
        second.close()


def test_anything_else_on_the_port_still_fails_the_start() -> None:
    port = free_port()
    other = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # another program, without SO_REUSEPORT
    other.bind(("127.0.0.1", port))
    other.listen()
    try:
        with pytest.raises(OSError):
            _bind(InternalListener("127.0.0.1", port))
    finally:
        other.close()
