"""A loop's heartbeat: late once silent past its allowance, and written to a file for a process of its own."""

from __future__ import annotations

from diversion_common.heartbeat import GRACE_SECONDS, Heartbeat, read_beat
from support.processes import cli


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_loop_is_late_only_past_three_intervals_and_the_grace():
    clock = Clock()
    heartbeat = Heartbeat("outbox_relay", 2.0, clock)
    assert heartbeat.lateness() == "not started"
    heartbeat.beat(passed=False)
    clock.now += 3 * 2.0 + GRACE_SECONDS
    assert heartbeat.lateness() is None
    clock.now += 1
    assert heartbeat.lateness() == f"no pass for {3 * 2.0 + GRACE_SECONDS + 1:.0f} s (allowed {3 * 2.0 + GRACE_SECONDS:.0f} s)"
    heartbeat.beat()
    assert heartbeat.lateness() is None
    assert heartbeat.last().passes == 1  # the start is a sign of life, not a pass


def test_the_file_is_written_at_start_and_at_most_once_a_second(tmp_path):
    clock = Clock()
    heartbeat = Heartbeat("delivery_worker", 0.1, clock)
    heartbeat.file = tmp_path / "heartbeat"
    heartbeat.beat(passed=False)
    assert read_beat(heartbeat.file).passes == 0
    for _ in range(5):
        clock.now += 0.1
        heartbeat.beat()
    assert read_beat(heartbeat.file).passes == 0  # within the second: not rewritten
    clock.now += 1
    heartbeat.beat()
    assert read_beat(heartbeat.file).passes == 6
    assert read_beat(heartbeat.file).at == clock.now


def test_heartbeat_check_says_whether_the_file_is_fresh(tmp_path):
    file = tmp_path / "heartbeat"
    missing = cli({}, "heartbeat-check", str(file))
    assert missing.returncode == 1 and missing.stderr == f"error: no heartbeat in {file} yet\n"

    stale = Heartbeat("breach_scheduler", 1.0, lambda: 0.0)  # the epoch: long ago
    stale.file = file
    stale.beat()
    late = cli({}, "heartbeat-check", str(file))
    assert late.returncode == 1 and late.stderr.startswith("error: breach_scheduler: no pass for ")

    fresh = Heartbeat("breach_scheduler", 1.0)
    fresh.file = file
    fresh.beat()
    ok = cli({}, "heartbeat-check", str(file))
    assert ok.returncode == 0 and ok.stdout.startswith("breach_scheduler: ok, 1 passes")
