"""A path no route serves is a 404 problem, answered before the key is checked.

The routes are public knowledge (the OpenAPI document is served without a key), so a 401
for an unknown path hid nothing and told a caller with a typo the wrong thing. A path that
a route serves still needs a key first: its 401 (or 403) comes before a 405 for the method.
Checked by the path alone, against the app's route templates: no database, no body read.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from diversion_common.observability import route_patterns
from diversion_common.problems import NotFound, problem_response


def is_known_path(app: object, path: str, redirect_slashes: bool = True) -> bool:
    """Whether a route serves ``path``, or would redirect it to one (a trailing slash added or removed)."""
    candidates = [path]
    if redirect_slashes and path != "/":
        candidates.append(path[:-1] if path.endswith("/") else f"{path}/")
    return any(pattern.match(candidate) for pattern, _ in route_patterns(app) for candidate in candidates)


class UnknownPathGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            app = scope["app"]
            if not is_known_path(app, scope["path"], getattr(getattr(app, "router", None), "redirect_slashes", True)):
                await problem_response(NotFound(), Request(scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)
