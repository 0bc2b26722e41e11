"""Faults around delivery, with real processes: killed workers, a gateway that is down.

The provider is a fake that speaks the real protocol (it verifies every message
with `standardwebhooks`). Longer versions: `make test-faults`.
"""

from __future__ import annotations

import os
import random
import time

import httpx
import pytest

from support.delivery_system import delivered_case_ids, refer
from support.fake_provider import Answer
from support.processes import wait_for

SOAK_REFERRALS = int(os.environ.get("FAULT_SOAK_REFERRALS", "30"))
SOAK_KILLS = int(os.environ.get("FAULT_SOAK_KILLS", "2"))


def test_a_worker_killed_mid_delivery_delivers_after_restart_with_at_most_one_repeat(delivery_system):
    system = delivery_system
    system.gateway.start()
    system.referral_api.start()
    system.register_provider()
    # The first try hangs inside the provider, so the worker is surely mid-delivery when killed.
    system.provider.answer_next(Answer(200, hang_seconds=1.5))
    worker = system.start_worker()
    case_id = refer(system)

    assert wait_for(lambda: len(system.provider.received) == 1, timeout=15)
    worker.kill()
    system.start_worker()

    assert wait_for(lambda: len(system.provider.received) >= 2, timeout=15)
    time.sleep(1.0)  # time for any further (wrong) repeat to show up
    ids = system.provider.ids()
    assert len(ids) == 2 and len(set(ids)) == 1, ids
    assert all(r.verified for r in system.provider.received)
    assert delivered_case_ids(system) == {case_id}


def test_nothing_is_lost_across_referrals_with_random_kills(delivery_system):
    """The gateway is down when the referrals start; the gateway and the worker are killed
    (SIGKILL) at random while they flow. Every case reaches the provider."""
    system = delivery_system
    rng = random.Random(1234)
    system.referral_api.start()
    case_ids = [refer(system) for _ in range(SOAK_REFERRALS // 3)]  # the gateway is not up yet
    system.gateway.start()
    system.register_provider()
    worker = system.start_worker()

    kill_points = sorted(rng.sample(range(1, SOAK_REFERRALS - len(case_ids)), SOAK_KILLS))
    for n in range(SOAK_REFERRALS - len(case_ids)):
        case_ids.append(refer(system))
        if kill_points and n == kill_points[0]:
            kill_points.pop(0)
            if rng.random() < 0.5:
                worker.kill()
                worker = system.start_worker()
            else:
                system.gateway.kill()
                system.gateway.start()

    assert wait_for(lambda: delivered_case_ids(system) == set(case_ids), timeout=120, interval=0.25), (
        f"{len(set(case_ids) - delivered_case_ids(system))} of {len(case_ids)} cases not delivered"
    )
    received = system.provider.ids()
    repeats = len(received) - len(set(received))
    assert repeats <= SOAK_KILLS, f"{repeats} repeated deliveries for {SOAK_KILLS} kills"


@pytest.mark.postgresql_only  # several workers at once need PostgreSQL's row locks; SQLite runs one
def test_several_workers_never_send_the_same_message_twice(delivery_system):
    system = delivery_system
    system.gateway.start()
    system.referral_api.start()
    system.register_provider()
    for _ in range(3):
        system.start_worker()
    case_ids = [refer(system) for _ in range(45)]

    assert wait_for(lambda: delivered_case_ids(system) == set(case_ids), timeout=60, interval=0.25)
    received = system.provider.ids()
    assert len(received) == len(set(received)) == len(case_ids)


def attempts_logged(system, case_id: str) -> list[dict]:
    deliveries = httpx.get(f"{system.gateway.url}/v1/admin/deliveries", headers=system.headers("admin")).json()["items"]
    [delivery] = [d for d in deliveries if d["case_id"] == case_id]
    return httpx.get(f"{system.gateway.url}/v1/admin/deliveries/{delivery['id']}", headers=system.headers("admin")).json()["attempts_log"]


def test_five_server_errors_then_success_delivers_once_with_six_attempts(delivery_system):
    system = delivery_system
    system.gateway.start()
    system.referral_api.start()
    system.register_provider()
    system.provider.answer_next(*[Answer(500)] * 5)
    system.start_worker()
    case_id = refer(system)

    assert wait_for(lambda: len(system.provider.accepted()) == 1, timeout=30)
    time.sleep(0.5)
    assert len(system.provider.received) == 6 and len(set(system.provider.ids())) == 1
    assert wait_for(lambda: len(attempts_logged(system, case_id)) == 6, timeout=10)
    assert [a["status_code"] for a in attempts_logged(system, case_id)] == [500] * 5 + [200]


def test_a_provider_hanging_past_the_timeout_is_retried_and_no_worker_is_stuck(delivery_system):
    system = delivery_system
    # A timeout long enough that the other referrals surely get through while the first hangs.
    system.env.update({"PROVIDER_GATEWAY_DELIVERY_TIMEOUT_SECONDS": "6", "PROVIDER_GATEWAY_DELIVERY_LEASE_SECONDS": "15"})
    system.gateway.start()
    system.referral_api.start()
    system.register_provider()
    system.provider.answer_next(Answer(200, hang_seconds=12))  # twice the worker's timeout
    system.start_worker()
    first = refer(system)
    assert wait_for(lambda: len(system.provider.received) == 1, timeout=15)
    later = [refer(system) for _ in range(5)]

    assert wait_for(lambda: first in {r.payload["data"]["case_id"] for r in system.provider.accepted()}, timeout=30)
    assert wait_for(lambda: set(later) <= delivered_case_ids(system), timeout=15)
    arrivals = [r.payload["data"]["case_id"] for r in system.provider.received]
    retry_of_first = arrivals.index(first, 1)
    # The others went through while the first try was still hanging: nothing waited for it.
    assert all(arrivals.index(case_id) < retry_of_first for case_id in later), arrivals
    attempts = attempts_logged(system, first)
    assert attempts[0]["error"] == "timeout" and attempts[0]["status_code"] is None
    assert attempts[-1]["status_code"] == 200
