"""A bad setting stops a service, or a loop's process, before it starts: one line naming the
setting, no traceback, and never the value of one that may hold a secret (a key, a database
URL with its password). Each case starts the real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from diversion_common import service_process
from support.processes import APPS, REPO, free_port

pytestmark = pytest.mark.database_independent


def start_service(service: str, env: dict[str, str], tmp_path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *service_process.command(APPS[service]), "--port", str(free_port())]
    database = {f"{service.upper()}_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"}
    return subprocess.run(command, env={**os.environ, **database, **env}, cwd=REPO, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("service", "variable", "value", "problem"),
    [
        ("referral_api", "REFERRAL_API_BREACH_CHECK_SECONDS", "abc-not-seconds", "Input should be a valid number"),
        ("referral_api", "REFERRAL_API_RUN_BREACH_SCHEDULER", "perhaps", "valid boolean"),
        ("referral_api", "REFERRAL_API_LOG_LEVEL", "LOUDEST", "must be one of"),
        ("provider_gateway", "PROVIDER_GATEWAY_DATABASE_URL", "mysql://someone:pw-not-shown@db/x", "only sqlite and postgresql"),
        ("provider_gateway", "PROVIDER_GATEWAY_RATE_LIMIT_PER_CLIENT", "lots-per-minute", "lots-per-minute"),
        ("provider_gateway", "PROVIDER_GATEWAY_SECRETS_KEYS", "not-a-fernet-key", "not a Fernet key"),
    ],
)
def test_a_service_with_a_bad_setting_says_which_in_one_line(service, variable, value, problem, tmp_path):
    stopped = start_service(service, {variable: value}, tmp_path)
    assert stopped.returncode != 0
    lines = (stopped.stdout + stopped.stderr).splitlines()
    assert len(lines) == 1, lines
    line = json.loads(lines[0])
    assert line["level"].lower() == "error" and line["setting"] == variable
    assert variable in line["message"] and problem in line["message"]
    if variable.endswith(("_SECRETS_KEYS", "_DATABASE_URL")):
        assert value not in lines[0] and "pw-not-shown" not in lines[0]
    assert "Traceback" not in lines[0]


def test_a_service_without_its_secrets_keys_says_so_in_one_line(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "REFERRAL_API_SECRETS_KEYS"}
    command = [sys.executable, *service_process.command(APPS["referral_api"]), "--port", str(free_port())]
    stopped = subprocess.run(
        command, env={**env, "REFERRAL_API_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"},
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert stopped.returncode != 0
    (line,) = (stopped.stdout + stopped.stderr).splitlines()
    assert json.loads(line)["message"].startswith("REFERRAL_API_SECRETS_KEYS is not set")


@pytest.mark.parametrize(("command", "variable"), [("scheduler", "REFERRAL_API_BREACH_CHECK_SECONDS"), ("gateway-worker", "PROVIDER_GATEWAY_DELIVERY_POLL_SECONDS")])
def test_a_loops_process_with_a_bad_setting_says_which_in_one_line(command, variable):
    stopped = subprocess.run(
        [sys.executable, "-m", "diversion_cli.main", command], env={**os.environ, variable: "soon"},
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert stopped.returncode == 2
    assert stopped.stdout == ""
    assert stopped.stderr == f"error: invalid setting {variable}: Input should be a valid number, unable to parse string as a number\n"
