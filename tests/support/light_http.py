"""A load generator's HTTP/1.1 client: one keep-alive connection, requests written and answers
read by hand on asyncio's streams.

The mixed load's clients share the two cores with the services they measure. Through httpx each
call cost the client about 3 ms of CPU (0.4 of a core at 60 clients, 0.7 at 200), taken from the
services and counted in their latency. This client sends what the load needs (a method, a path,
headers, a body) and reads the status and the body (Content-Length or chunked), for a tenth of that;
`make bench-mixed` prints its CPU share beside the figures.
"""

from __future__ import annotations

import asyncio
import time

from diversion_common.slow_clients import CLIENT_IDLE_SECONDS


class ConnectionLost(Exception):
    """The connection closed before the answer was whole."""


class LightConnection:
    """One keep-alive connection to host:port, opened when needed, one request at a time."""

    # Closed by us before the server's idle timeout could close it under a request (as our services' own clients do).
    IDLE_SECONDS = CLIENT_IDLE_SECONDS

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._last_used = 0.0

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"", *, timeout: float) -> tuple[int, bytes]:
        """The answer's status and body; raises TimeoutError or ConnectionLost (the connection is then closed)."""
        try:
            return await asyncio.wait_for(self._exchange(method, path, headers, body), timeout)
        except BaseException:
            self.close()
            raise

    async def _exchange(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        if self._streams is not None and time.monotonic() - self._last_used > self.IDLE_SECONDS:
            self.close()
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            status, answer_headers = _head(await reader.readuntil(b"\r\n\r\n"))
            if "content-length" in answer_headers:
                content = await reader.readexactly(int(answer_headers["content-length"]))
            elif answer_headers.get("transfer-encoding", "").lower() == "chunked":
                content = await _chunks(reader)
            else:
                content = await reader.read()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError) as error:
            raise ConnectionLost(type(error).__name__) from error
        if answer_headers.get("connection", "").lower() == "close":
            self.close()
        self._last_used = time.monotonic()
        return status, content

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


def _head(raw: bytes) -> tuple[int, dict[str, str]]:
    status_line, *lines = raw.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), headers


async def _chunks(reader: asyncio.StreamReader) -> bytes:
    content = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return bytes(content)
        content += chunk[:-2]
