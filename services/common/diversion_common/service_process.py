"""A service process's entry point: uvicorn, without what only the command line uses.

`python -m diversion_common.service_process` takes uvicorn's own options (serve and the
images run it). httpx imports its command-line client (click, rich and pygments) whenever they
are installed, and structlog's console renderer imports rich: the CLI needs them, a service
logs JSON and never does. Marked missing here, before anything imports them, a service process
holds about 5 MB less (docs/PERFORMANCE.md, "Memory"). uvicorn's workers are spawned: each runs
this module's top level again (as ``__mp_main__``) before it imports the app.
"""

from __future__ import annotations

import sys

# None in sys.modules: an import of the name raises ImportError, which both libraries expect
# when the optional package is absent. setdefault: a process that has loaded them keeps them.
for _unused in ("httpx._main", "rich", "pygments"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]


def command(factory: str) -> list[str]:
    """The arguments after the interpreter that run a service's app factory as production does
    (serve, the images and the tests' processes)."""
    from diversion_common.slow_clients import UVICORN_OPTIONS

    return ["-m", __spec__.name if __spec__ else __name__, "--factory", factory, *UVICORN_OPTIONS]


def main() -> None:
    from uvicorn.main import main as uvicorn_main

    uvicorn_main()


if __name__ == "__main__":
    main()
