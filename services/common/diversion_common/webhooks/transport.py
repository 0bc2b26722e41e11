"""The worker's HTTP transport: it connects only to addresses that pass ``targets``' check.

A URL's host is checked when the URL is saved, but a name can resolve to anything
later (DNS rebinding: public when saved, 169.254.169.254 or 127.0.0.1 when sent).
So at every connection this transport resolves the name itself, checks every
address it resolves to, and connects to one of those very addresses, never
resolving twice: a rebind between the check and the connection cannot slip
through. TLS is still verified against the URL's host name (httpcore passes it as
the server name), and the connection pool is keyed by that name.

Plain http is refused unless loopback is allowed (a local run), and then only to
addresses that pass too. A refused target raises ``RefusedTarget`` before any
packet is sent to it, so nothing about it (open port, timing) can be learnt.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from diversion_common.webhooks.targets import LOOPBACK, IPAddress, address_refusal


class RefusedTarget(Exception):
    """The URL is not one a webhook may be sent to now (private, loopback, plain http...)."""


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (a module function, so tests can stand in for DNS)."""
    try:
        answers = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except OSError as error:  # socket.gaierror: no such name, or no resolver
        raise httpcore.ConnectError(type(error).__name__) from None
    # An IPv6 answer may carry a scope ("fe80::1%eth0"): the address is what is checked.
    return [ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]) for _family, _type, _proto, _name, sockaddr in answers]


def checked(addresses: Iterable[IPAddress], *, allow_loopback: bool) -> list[IPAddress]:
    """The addresses, when every one of them may be sent to; RefusedTarget otherwise."""
    addresses = list(dict.fromkeys(addresses))
    if not addresses:
        raise RefusedTarget("the name resolves to no address")
    for address in addresses:
        refusal = address_refusal(address)
        if refusal is not None and not (refusal == LOOPBACK and allow_loopback):
            # One bad address refuses the name: the resolver could hand out either.
            raise RefusedTarget(refusal)
    return addresses


class _CheckedNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network, resolving and checking before it connects."""

    def __init__(self, allow_loopback: bool) -> None:
        self._network = httpcore.AnyIOBackend()
        self._allow_loopback = allow_loopback

    async def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = checked(await resolve(host, port), allow_loopback=self._allow_loopback)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *_args: Any, **_kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise RefusedTarget("a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport, its connections made through ``_CheckedNetwork``."""

    def __init__(self, *, allow_loopback: bool, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self.allow_loopback = allow_loopback
        # httpx takes no network backend of its own: its pool (the one thing it sends through)
        # is replaced by the same pool on the checked network. httpx is pinned in uv.lock, and
        # tests/common/test_webhook_targets.py fails if this stops being used.
        assert isinstance(self._pool, httpcore.AsyncConnectionPool)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_CheckedNetwork(allow_loopback),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme != "https" and not self.allow_loopback:
            raise RefusedTarget("plain http")
        return await super().handle_async_request(request)
