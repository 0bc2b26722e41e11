"""A referral waiting for a pull-mode provider's pull does not wake the delivery worker: it has
nothing to send (on SQLite, each wake-up took a turn at the one writer)."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import Session

from diversion_common.database import make_engine
from diversion_common.messaging import wake_event
from provider_gateway.deliveries.service import create_referral_delivery
from provider_gateway.deliveries.tables import Delivery


@pytest.mark.parametrize(("pull_mode", "wakes"), [(True, False), (False, True)])
def test_only_a_delivery_to_send_wakes_the_worker(fresh_database, pull_mode: bool, wakes: bool) -> None:
    engine = make_engine(fresh_database("provider_gateway"))
    worker_wakes = wake_event(Delivery.__tablename__)
    try:
        with Session(engine) as session:
            worker_wakes.clear()
            create_referral_delivery(session, case_id=uuid.uuid4(), provider_id=uuid.uuid4(), pull_mode=pull_mode, payload={"a": 1})
            session.commit()
        assert worker_wakes.is_set() is wakes
    finally:
        engine.dispose()
