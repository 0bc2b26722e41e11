"""A provider added while cases are being routed misses none of them.

On PostgreSQL a routing transaction and a provider registration run at once;
routing holds a lock so that either the case sees the new provider or the
provider's "route the waiting cases" sees the case.
"""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select
from sqlmodel import Session

from provider_gateway.cases.tables import GatewayCase
from support.gateway_flows import register_provider, route_a_case


def test_cases_routed_while_a_provider_is_added_are_all_routed(gateway, admin, referral_service, gateway_engine):
    barrier = threading.Barrier(2)
    case_ids: list[str] = []

    def route_many() -> None:
        barrier.wait()
        for _ in range(30):
            case_ids.append(route_a_case(gateway, referral_service))

    def add_provider() -> None:
        barrier.wait()
        register_provider(gateway, admin)

    threads = [threading.Thread(target=route_many), threading.Thread(target=add_provider)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with Session(gateway_engine) as session:
        statuses = {
            str(c.case_id): c.status
            for c in session.scalars(select(GatewayCase).where(GatewayCase.case_id.in_([uuid.UUID(c) for c in case_ids])))
        }
    assert set(statuses.values()) == {"routed"}, statuses
