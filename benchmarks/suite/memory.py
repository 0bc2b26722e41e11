"""Each process's resident memory, sampled while the benchmark runs (the target is on the peak)."""

from __future__ import annotations

import threading
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def largest_rss_mb(pids: list[int]) -> float:
    """The largest of these processes' (a service's workers): the target is each process's."""
    return max(rss_mb(pid) for pid in pids)


class MemoryWatch:
    """Samples VmRSS of named groups of processes (a service and its workers) every ``interval``
    seconds until stopped; keeps each group's peak, of its largest process."""

    def __init__(self, pids: dict[str, list[int]], interval: float = 0.5) -> None:
        self.pids = pids
        self.interval = interval
        self.peak_mb: dict[str, float] = {name: 0.0 for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        for name, pids in self.pids.items():
            try:
                self.peak_mb[name] = max(self.peak_mb[name], largest_rss_mb(pids))
            except (OSError, RuntimeError):
                pass  # the process has gone: its peak stays as last seen
