"""The cases a call touched beyond the one its path names (a list, a batch of messages).

The audit middleware opens a collection for each call; a handler adds to it with
``touched``. Outside a call (a worker, a test calling a service function) it does nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from contextvars import ContextVar

touched_cases_var: ContextVar[list[uuid.UUID] | None] = ContextVar("touched_cases", default=None)


def touched(case_ids: Iterable[uuid.UUID]) -> None:
    collected = touched_cases_var.get()
    if collected is not None:
        # The list is shared with the middleware, so a handler run in a worker thread adds to it too.
        collected.extend(case_ids)
