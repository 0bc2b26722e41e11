"""A long-running process's start-up objects, left out of the garbage collector's full passes.

A started service tracks about 155,000 objects (its modules, the app, the models). A full pass
over them took 54 to 81 ms on a 2-core VM, and nothing else in the process runs meanwhile: each
pass was a slow answer for every call in flight and a stall of the relay and the delivery worker
(docs/PERFORMANCE.md, "Pauses"). Frozen (`gc.freeze`), they are never scanned again; what the
process makes later is collected as before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def start_up_objects_frozen() -> Iterator[None]:
    """Freeze what the process holds now, until the block ends. Unfrozen at the end, so that a
    process which starts apps one after another (the tests) can still collect the ones it is done with."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
