"""A service process starts through diversion_common.service_process, which keeps out what only
the command line uses (httpx's client, rich, pygments): about 5 MB of each process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support.processes import REPO

pytestmark = pytest.mark.database_independent

LOADED = """
import json, sys
{first}
from referral_api.main import create_app as referral_api
from provider_gateway.main import create_app as provider_gateway
referral_api(), provider_gateway()
import httpx, structlog
structlog.get_logger("diversion.test").info("still logs")
with httpx.Client() as client:
    pass
rss = int(next(line for line in open("/proc/self/status") if line.startswith("VmRSS")).split()[1]) // 1024
print(json.dumps({{"loaded": sorted(n for n in ("rich", "pygments", "httpx._main") if sys.modules.get(n) is not None), "rss": rss}}))
"""


def _loaded(first: str) -> dict:
    done = subprocess.run([sys.executable, "-c", LOADED.format(first=first)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_service_process_loads_no_command_line_libraries():
    lean = _loaded("import diversion_common.service_process")
    assert lean["loaded"] == []
    plain = _loaded("")
    assert plain["loaded"] == ["httpx._main", "pygments", "rich"]  # what the entry point keeps out
    assert plain["rss"] - lean["rss"] >= 3  # megabytes

