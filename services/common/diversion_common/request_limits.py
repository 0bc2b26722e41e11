"""ASGI middleware that refuses request bodies we will not parse, or that come too slowly,
or whose JSON repeats a key in an object (json_bodies.py).

It runs before routing so an oversized or non-JSON body is never read into
memory or handed to a handler; it runs after the AuthenticationGate, so the
larger allowance of /internal/ is only for a caller already known as our other service.
"""

from __future__ import annotations

import asyncio

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from diversion_common.credentials import Role
from diversion_common.json_bodies import repeated_key
from diversion_common.problems import PayloadTooLarge, Problem, RefusedBody, UnsupportedMediaType, ValidationFailed, problem_response

_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


class RequestLimitsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        body_read_timeout_seconds: float,
        internal_max_body_bytes: int = 1024 * 1024,
    ) -> None:
        self.app = app
        self.public_max_body_bytes = max_body_bytes
        # Our own services send batches of messages to /internal/: larger, and authenticated.
        self.internal_max_body_bytes = internal_max_body_bytes
        self.body_read_timeout_seconds = body_read_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        principal = scope.get("state", {}).get("principal")
        internal = (
            scope["path"].startswith("/internal/") and principal is not None and principal.role is Role.service
        )
        max_body_bytes = self.internal_max_body_bytes if internal else self.public_max_body_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            await self._reject(PayloadTooLarge(f"at most {max_body_bytes} bytes"), scope, receive, send)
            return
        has_body = (declared is not None and declared != "0") or "transfer-encoding" in headers
        if has_body and not _is_json(headers.get("content-type", "")):
            await self._reject(UnsupportedMediaType(), scope, receive, send)
            return

        received = 0
        loop = asyncio.get_running_loop()
        # The whole body, not each chunk: a client trickling a byte at a time gets no longer.
        deadline = loop.time() + self.body_read_timeout_seconds
        body_complete = False
        chunks: list[bytes] = []

        async def limited_receive() -> Message:
            nonlocal received, body_complete
            if body_complete:
                # Later receives wait for a disconnect (a streaming response listens for one).
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                # FastAPI re-raises HTTPException from body reading; our handler turns
                # it into the 408 problem, which closes the connection.
                raise HTTPException(status_code=408) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body_bytes:
                    # As above: the 413 problem.
                    raise HTTPException(status_code=413)
                chunks.append(message.get("body", b""))
                body_complete = not message.get("more_body", False)
                if body_complete:
                    # Every JSON body, before any route parses it (diversion_common/json_bodies.py).
                    repeated = repeated_key(b"".join(chunks))
                    if repeated is not None:
                        raise RefusedBody(ValidationFailed("Each key may appear once in a JSON object.", errors=[repeated]))
            else:
                body_complete = True
            return message

        await self.app(scope, limited_receive, send)

    @staticmethod
    async def _reject(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        await problem_response(problem, Request(scope))(scope, receive, send)
