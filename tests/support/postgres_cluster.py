"""A throw-away PostgreSQL server of our own: `initdb` in a temporary directory, on a free port.

For what no shared server allows (restarting it under load), and for the soak on PostgreSQL
without one. The binaries are found on PATH, in $PG_BIN, or under /usr/lib/postgresql/*/bin.
PostgreSQL refuses to run as root: as root the server runs as the `postgres` user (or $PG_USER).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from support.processes import free_port


class ClusterUnavailable(Exception):
    """Why no throw-away cluster can be made here (a reason to skip, not a failure)."""


def postgres_bin() -> Path | None:
    candidates = [os.environ.get("PG_BIN")]
    found = shutil.which("pg_ctl")
    candidates.append(str(Path(found).resolve().parent) if found else None)

    def version(path: Path) -> tuple[int, ...]:
        try:
            return tuple(int(part) for part in path.parent.name.split("."))
        except ValueError:
            return (0,)

    candidates += [str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)]
    candidates += ["/usr/local/pgsql/bin", "/usr/pgsql/bin"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").is_file() and (Path(candidate) / "pg_ctl").is_file():
            return Path(candidate)
    return None


def _run_as() -> tuple[int, int] | None:
    """The user the server runs as: ourselves, or when we are root the `postgres` user."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("PG_USER", "postgres")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ClusterUnavailable(f"running as root, and there is no {name!r} user to run PostgreSQL as (set PG_USER)") from None
    return entry.pw_uid, entry.pw_gid


@dataclass
class PostgresCluster:
    bin_dir: Path
    base: Path
    port: int
    owner: tuple[int, int] | None
    _started: bool = field(default=False, repr=False)

    @classmethod
    def create(cls) -> PostgresCluster:
        """initdb a new cluster (not started). Raises ClusterUnavailable when it cannot be done here."""
        bin_dir = postgres_bin()
        if bin_dir is None:
            raise ClusterUnavailable("no PostgreSQL binaries (initdb, pg_ctl): install them or set PG_BIN")
        owner = _run_as()
        # Not under pytest's tmp_path: that is private to us, and the server may run as another user.
        base = Path(tempfile.mkdtemp(prefix="dl-postgres-"))
        if owner is not None:
            os.chown(base, *owner)
        cluster = cls(bin_dir, base, free_port(), owner)
        result = cluster._pg("initdb", "-D", str(cluster.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                             "--locale=C", "--no-sync", check=False)
        if result.returncode != 0:
            shutil.rmtree(base, ignore_errors=True)
            raise ClusterUnavailable(f"initdb failed: {result.stdout[-500:]}")
        return cluster

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _pg(self, program: str, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        kwargs = {"user": self.owner[0], "group": self.owner[1], "extra_groups": []} if self.owner else {}
        # Output to a file, not a pipe: a server pg_ctl starts would hold a pipe open for ever.
        output = self.base / "pg_ctl.out"
        with output.open("w") as sink:
            if self.owner is not None:
                os.chown(output, *self.owner)
            result = subprocess.run(
                [str(self.bin_dir / program), *args], cwd=self.base, stdin=subprocess.DEVNULL, stdout=sink,
                stderr=subprocess.STDOUT, text=True, timeout=timeout, env={**os.environ, "LC_ALL": "C"}, **kwargs,  # type: ignore[arg-type]
            )
        result.stdout = output.read_text()
        if check and result.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed ({result.returncode}): {result.stdout[-2000:]}; see {self.log}")
        return result

    def start(self) -> PostgresCluster:
        # fsync off: a killed server loses nothing the OS has (only a machine crash would), and it is fast.
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base} "
            "-c fsync=off -c max_connections=200"
        )
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")
        self._started = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; "immediate" kills it as a crash would (recovery at the next start()).
        start() again starts it with the same options."""
        self._pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "immediate") -> None:
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "-t", "60", "restart")

    def create_database(self, name: str) -> str:
        engine = create_engine(self.url(), isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def destroy(self) -> None:
        if self._started:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "-t", "60", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)
