"""The soak's short run (support/soak.py): 40 referrals and their providers' events while
referral_api, provider_gateway and the gateway's delivery worker are each SIGKILLed once, at
random moments, and started again. Nothing lost, nothing duplicated. `make soak` is the long one.
"""

from __future__ import annotations

import pytest

from support.delivery_system import DeliverySystem
from support.soak import SHORT_PROGRAMME, TARGETS, Soak

REFERRALS = 40


# On the production database only: SQLite's kills are covered by test_delivery_faults.py, and
# `make soak` runs the long one on SQLite by default (SOAK_DATABASE=postgresql for PostgreSQL).
@pytest.mark.postgresql_only
def test_nothing_is_lost_or_duplicated_while_processes_are_killed_at_random(delivery_system: DeliverySystem):
    figures = Soak(delivery_system, referrals=REFERRALS, kills=len(TARGETS), seed=16, programme=SHORT_PROGRAMME, patience=120).run()

    assert figures.unexpected == []
    assert figures.kills == {target: 1 for target in TARGETS}
    assert figures.line() == f"{REFERRALS} accepted, {REFERRALS} delivered, 0 lost, 0 duplicated", dict(figures.details)
    # Every event applied, in order, none refused: each programme ran to its end.
    assert figures.details["cases ending completed"] == REFERRALS, dict(figures.details)
