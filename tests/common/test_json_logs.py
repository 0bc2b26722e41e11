"""Every log line the services write is JSON: ours, uvicorn's, alembic's, and warnings."""

from __future__ import annotations

import json
import logging
import warnings

import pytest

from diversion_common.observability import configure_logging


def test_uvicorn_alembic_and_warnings_are_logged_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    # uvicorn's own configuration, as it sets it before loading our app: plain text handlers.
    plain = logging.StreamHandler()
    plain.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    logging.getLogger("uvicorn").handlers[:] = [plain]
    logging.getLogger("uvicorn.access").handlers[:] = [plain]
    logging.captureWarnings(False)  # as in a fresh process (the test runner swaps showwarning per test)
    configure_logging("INFO")

    logging.getLogger("uvicorn.error").info("Started server process [%d]", 42, extra={"color_message": "\x1b[36m42\x1b[0m"})
    logging.getLogger("alembic.runtime.migration").info("Running upgrade  -> 0001")
    logging.getLogger("some.library").warning("something odd")
    logging.getLogger("some.library").info("chatter")  # below the level kept from other libraries
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)

    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert [(r["logger"], r["message"]) for r in records[:3]] == [
        ("uvicorn.error", "Started server process [42]"),
        ("alembic.runtime.migration", "Running upgrade  -> 0001"),
        ("some.library", "something odd"),
    ]
    assert records[3]["logger"] == "py.warnings" and "deprecated thing" in records[3]["message"]
    assert len(records) == 4
    assert all("color_message" not in record for record in records)
