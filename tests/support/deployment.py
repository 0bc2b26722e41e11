"""docker/: the compose file as docker-compose resolves it, and the image files' instructions.

No Docker engine runs on the development machines: the tests read what the files say and
run each container's command here, as the container would (tests/deploy/).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from support.processes import REPO

DOCKER = REPO / "docker"
COMPOSE_FILE = DOCKER / "compose.yaml"
IMAGES = {"referral_api": DOCKER / "referral_api.Dockerfile", "provider_gateway": DOCKER / "provider_gateway.Dockerfile"}


def docker_compose(*args: str) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("docker-compose")
    assert executable, "docker-compose is missing: `make system-tools` installs it (scripts/debian-packages.txt)"
    return subprocess.run([executable, "-f", str(COMPOSE_FILE), *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def compose_config() -> dict[str, Any]:
    """The compose file as docker-compose resolves it (anchors merged, paths made absolute)."""
    resolved = docker_compose("config")
    assert resolved.returncode == 0, resolved.stderr
    return yaml.safe_load(resolved.stdout)


@dataclass(frozen=True)
class Image:
    """One image file: its stages' instructions, as (keyword, arguments) pairs."""

    stages: list[list[tuple[str, str]]]

    @property
    def final(self) -> list[tuple[str, str]]:
        return self.stages[-1]

    def last(self, keyword: str) -> str:
        return [arguments for word, arguments in self.final if word == keyword][-1]

    def command(self) -> list[str]:
        return json.loads(self.last("CMD"))

    def healthcheck(self) -> list[str]:
        return json.loads(self.last("HEALTHCHECK").split(" CMD ", 1)[1])

    def env(self) -> dict[str, str]:
        pairs = " ".join(arguments for word, arguments in self.final if word == "ENV")
        return dict(re.findall(r"(\w+)=(\S+)", pairs))


def read_image(path: Path) -> Image:
    text = re.sub(r"\\\n\s*", " ", path.read_text())  # continuation lines joined
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, arguments = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword.upper(), arguments.strip()))
    return Image(stages)
