"""Every log line the services write is JSON: ours, uvicorn's, alembic's, APScheduler's, and warnings."""

from __future__ import annotations

import json
import logging
import uuid
import warnings

import pytest
import structlog

from diversion_common.observability import configure_logging, handling


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


SECRET = "Zebedee Quixotic born 2001-02-03"


def test_an_exception_is_logged_as_its_type_only_ours_or_a_librarys(capsys: pytest.CaptureFixture[str]) -> None:
    """A traceback or an exception's message can quote a request's data: neither is written."""
    configure_logging("INFO")
    ours = structlog.get_logger("diversion.referral_api.breaches.scheduler")
    try:
        raise RuntimeError(SECRET)
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        ours.exception("breach checks failed")

    err = capsys.readouterr().err
    assert SECRET not in err and "Traceback" not in err
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert [(r["logger"], r["message"], r["error_type"]) for r in records] == [
        ("uvicorn.error", "Exception in ASGI application", "RuntimeError"),
        ("diversion.referral_api.breaches.scheduler", "breach checks failed", "RuntimeError"),
    ]


def test_a_line_logged_while_handling_a_message_carries_its_request_id(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO")
    request_id = str(uuid.uuid4())
    with handling(request_id):
        structlog.get_logger("diversion.outbox").info("outbox message sent", topic="case.routed")
        logging.getLogger("apscheduler.scheduler").info("Running job")
    structlog.get_logger("diversion.outbox").info("after")
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert [(r["message"], r["request_id"]) for r in records] == [
        ("outbox message sent", request_id), ("Running job", request_id), ("after", None),
    ]
    assert list(records[0])[:5] == ["time", "level", "logger", "message", "request_id"]
