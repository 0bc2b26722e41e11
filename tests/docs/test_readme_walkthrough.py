"""The README's walk-through, run as written against `make run`'s processes, so it cannot drift.

Its shell blocks are run in order by bash, in one session, against both services started
as `make run` starts them (migrate, demo-seed, serve) on free ports and throw-away SQLite
databases. The only changes to the text: the ports, and the project's Python for
`.tools/bin/uv run python` (the same interpreter, without uv's start-up on every event).
Each command's trailing comment says what it answers (tests/support/walkthrough.py); a
command that calls a service must say so, and every other command must succeed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from diversion_cli.runner import read_env_file
from diversion_common.credentials import parse_key
from support.demo_run import DemoRun, start_demo
from support.processes import REPO
from support.walkthrough import Command, commands, section_blocks

# Wraps the real curl to print each answer's status on stderr, beside the command's output.
CURL_STATUS = "curl() { command curl -w '%{stderr}\\n@@status %{http_code}\\n' \"$@\"; }"
END = re.compile(r"^@@end (\d+) rc=(\d+)$", re.M)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    run = start_demo(tmp_path_factory.mktemp("make-run"))
    yield run
    run.stop()


def walkthrough() -> list[Command]:
    return [command for block in section_blocks((REPO / "README.md").read_text()) for command in commands(block)]


def as_run_here(text: str, demo: DemoRun) -> str:
    return (
        text.replace("http://127.0.0.1:8000", demo.referral_api)
        .replace("http://127.0.0.1:8001", demo.gateway)
        .replace(".tools/bin/uv run python", sys.executable)
    )


def run_walkthrough(steps: list[Command], demo: DemoRun) -> list[tuple[str, int]]:
    """Each command's output (stdout and stderr, in order) and exit status."""
    script = [CURL_STATUS]
    for index, step in enumerate(steps):
        script += [as_run_here(step.text, demo), f"printf '\\n@@end {index} rc=%d\\n' $? >&2"]
    log = demo.folder / "walkthrough.out"
    with log.open("wb") as out:
        subprocess.run(
            ["bash", "-c", "\n".join(script)], cwd=demo.folder, stdout=out, stderr=subprocess.STDOUT, timeout=600,
            env={**os.environ, "GATEWAY_URL": demo.gateway},
        )
    output = log.read_text()
    results, begin = [], 0
    for end in END.finditer(output):
        results.append((output[begin : end.start()], int(end.group(2))))
        begin = end.end()
    return results


def test_every_call_of_the_walkthrough_says_what_it_answers() -> None:
    steps = walkthrough()
    assert len(steps) > 40
    silent = [step.text for step in steps if step.calls_a_service() and (step.expectation is None or step.expectation.status is None)]
    assert silent == []


def test_the_walkthrough_does_what_the_readme_says(demo: DemoRun) -> None:
    steps = walkthrough()
    results = run_walkthrough(steps, demo)
    assert len(results) == len(steps), f"the walk-through stopped after {len(results)} of {len(steps)} commands"
    wrong = []
    for step, (output, exit_status) in zip(steps, results, strict=True):
        if step.expectation is not None:
            problems = step.expectation.failures(output)
        else:
            problems = [f"exit status {exit_status}"] if exit_status != 0 else []
        if problems:
            wrong.append(f"line {step.line}: {step.text.splitlines()[0]}\n  {'; '.join(problems)}\n  printed: {output.strip()[:400]}")
    assert not wrong, "\n".join(wrong)


def issued_secrets(demo: DemoRun) -> set[str]:
    """Every key and secret demo-seed issued: the clients' keys (and their secret parts), the
    providers' signing secrets, the services' keys for each other and the at-rest keys."""
    found: set[str] = set()
    for credential in json.loads(demo.credentials_file().read_text()).values():
        parsed = parse_key(credential["api_key"])
        assert parsed is not None
        found |= {credential["api_key"], parsed[1]}
        if "signing_secret" in credential:
            found |= {credential["signing_secret"], credential["signing_secret"].removeprefix("whsec_")}
    for variable, value in read_env_file(demo.folder / ".run" / "demo.env").items():
        if variable.endswith(("_API_KEY", "_SECRETS_KEYS")):
            found |= {value, *value.split(",")}
            parsed = parse_key(value)
            found |= {parsed[1]} if parsed else set()
    return found


def test_make_run_logs_json_only_and_prints_no_key(demo: DemoRun) -> None:
    """Run last, after the walk-through's traffic: what migrate, demo-seed and serve printed.

    serve's output is a log stream: every line a JSON record. migrate and demo-seed log JSON
    to stderr and may tell the user what they did on stdout. No line holds a key or secret."""
    secrets = issued_secrets(demo)
    assert len(secrets) > 20
    records: dict[str, list[dict[str, object]]] = {}
    for output in demo.outputs:
        for stream, line in output.lines():
            leaked = sum(secret in line for secret in secrets)  # counted, so that a failure does not print them
            assert leaked == 0, f"{output.command} printed {leaked} secret(s) on {stream}"
            if output.command != "serve" and stream.endswith("stdout"):
                continue  # a message to the user, not a log
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                pytest.fail(f"{output.command} printed a log line that is not JSON: {line[:200]}")
            assert isinstance(record, dict) and {"time", "level", "logger", "message"} <= record.keys(), line[:200]
            records.setdefault(output.command, []).append(record)
    loggers = {command: {str(record["logger"]) for record in found} for command, found in records.items()}
    assert any(name.startswith("alembic") for name in loggers["migrate"])
    assert {"uvicorn.error", "diversion.serve", "diversion.access"} <= loggers["serve"]
    assert any(record["message"] == "ready" for record in records["serve"])
