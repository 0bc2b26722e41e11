"""`make run` as a new user gets it, on free ports and throw-away SQLite databases.

The same three commands (`migrate`, `demo-seed`, `serve`) with the same options, each a
process of its own whose stdout and stderr are kept apart, so a test can read what the
user's terminal showed. The working directory is a fresh folder holding `.run/` (as the
repository does after `make run`) and links to the repository's `docs/` and `scripts/`,
so the README's commands run there unchanged.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from support.processes import REPO, free_port

# The installed command, as `make run` calls it (`uv run diversion-link`).
CLI = [str(Path(sys.executable).parent / "diversion-link")]


@dataclass
class Output:
    """What one command printed, each stream apart."""

    command: str
    stdout: Path
    stderr: Path

    def lines(self) -> list[tuple[str, str]]:
        """(stream, line) for every non-empty line printed."""
        return [
            (stream.name, line)
            for stream in (self.stdout, self.stderr)
            for line in stream.read_text().splitlines()
            if line.strip()
        ]


@dataclass
class DemoRun:
    folder: Path
    ports: dict[str, int]
    env: dict[str, str]
    outputs: list[Output] = field(default_factory=list)
    server: subprocess.Popen[bytes] | None = None

    @property
    def referral_api(self) -> str:
        return f"http://127.0.0.1:{self.ports['referral_api']}"

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['provider_gateway']}"

    def credentials_file(self) -> Path:
        return self.folder / ".run" / "demo-credentials.json"

    def _streams(self, name: str) -> Output:
        output = Output(name, self.folder / f"{name}.stdout", self.folder / f"{name}.stderr")
        self.outputs.append(output)
        return output

    def run(self, name: str, *args: str) -> None:
        output = self._streams(name)
        with output.stdout.open("wb") as stdout, output.stderr.open("wb") as stderr:
            result = subprocess.run([*CLI, *args], env=self.env, cwd=self.folder, stdout=stdout, stderr=stderr, timeout=120)
        assert result.returncode == 0, f"{name} failed: {output.stderr.read_text()}"

    def serve(self, timeout: float = 150.0) -> None:
        output = self._streams("serve")
        options = [f"--{name.replace('_', '-')}-port={port}" for name, port in self.ports.items()]
        with output.stdout.open("wb") as stdout, output.stderr.open("wb") as stderr:
            # A session of its own: stopping it stops the two services it started, as Ctrl-C does.
            self.server = subprocess.Popen(
                [*CLI, "serve", "--env-file", ".run/demo.env", *options],
                env=self.env, cwd=self.folder, stdout=stdout, stderr=stderr, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not all(self._healthy(url) for url in (self.referral_api, self.gateway)):
            assert self.server.poll() is None, f"serve exited: {output.stderr.read_text()}"
            assert time.monotonic() < deadline, "the services did not start"
            time.sleep(0.2)

    @staticmethod
    def _healthy(url: str) -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGINT)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()


def start_demo(folder: Path) -> DemoRun:
    """migrate, demo-seed and serve, as `make run` does; the caller stops it."""
    for shared in ("docs", "scripts"):
        (folder / shared).symlink_to(REPO / shared)
    # Without the secrets keys, as `make run` starts: demo-seed makes its own and writes them to .run/demo.env.
    env = {name: value for name, value in os.environ.items() if not name.endswith("_SECRETS_KEYS")}
    env["REFERRAL_API_DATABASE_URL"] = f"sqlite:///{folder / 'referral_api.db'}"
    env["PROVIDER_GATEWAY_DATABASE_URL"] = f"sqlite:///{folder / 'provider_gateway.db'}"
    names = ("referral_api", "provider_gateway", "referral_api_internal", "provider_gateway_internal")
    demo = DemoRun(folder, {name: free_port() for name in names}, env)
    demo.run("migrate", "migrate")
    demo.run("demo-seed", "demo-seed", "--env-file", ".run/demo.env")
    try:
        demo.serve()
    except BaseException:
        demo.stop()
        raise
    return demo
