"""``Cache-Control: no-store`` on every API answer.

A case, a list of cases, a YJU's view, a provider's referral, an admin's view: almost
every answer can hold personal data, and a shared or browser cache must keep none of
it. Marking every answer under /v1/ and /internal/ is simpler and safer than choosing.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_API_PREFIXES = ("/v1/", "/internal/")


class NoStoreMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_API_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
                message["headers"] = [*headers, (b"cache-control", b"no-store")]
            await send(message)

        await self.app(scope, receive, send_no_store)
