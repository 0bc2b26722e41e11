"""The gateway's mirror of a case: newest version wins, even when one relay transaction records
several answers about the same case, some through the ORM (an answer that moves the routing)
and some as one conditional UPDATE (every other event's answer)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from diversion_common.contracts import CaseStatus
from provider_gateway.cases.mirror import mirror, mirror_open_view
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus


def a_case(engine) -> uuid.UUID:
    case_id = uuid.uuid4()
    with Session(engine) as session:
        session.add(GatewayCase(case_id=case_id, pathway="adult_deferred_summons", district="reading", out_of_hours_wanted=False,
                                status=GatewayCaseStatus.routed.value, provider_id=uuid.uuid4(), provider_payload={}))
        session.commit()
    return case_id


def stored(engine, case_id: uuid.UUID) -> tuple[str | None, int]:
    with Session(engine) as session:
        case = session.get(GatewayCase, case_id)
        return case.case_status, case.case_version


def test_a_newer_view_taken_by_update_is_not_undone_by_an_older_one_pending_in_the_orm(gateway_engine):
    case_id = a_case(gateway_engine)
    with Session(gateway_engine) as session:
        case = session.get(GatewayCase, case_id, with_for_update=True)
        assert mirror(session, case, status=CaseStatus.accepted_by_provider, version=3, programme=None)  # pending, not flushed
        mirror_open_view(session, case_id, status=CaseStatus.in_programme, version=4, programme=None)
        session.commit()
    assert stored(gateway_engine, case_id) == ("in_programme", 4)


def test_a_case_loaded_before_an_update_is_read_afresh_after_it(gateway_engine):
    case_id = a_case(gateway_engine)
    with Session(gateway_engine) as session:
        case = session.get(GatewayCase, case_id)
        mirror_open_view(session, case_id, status=CaseStatus.in_programme, version=4, programme=None)
        # An older view arriving after it changes nothing: the object knows the version the UPDATE wrote.
        assert not mirror(session, case, status=CaseStatus.accepted_by_provider, version=3, programme=None)
        session.commit()
    assert stored(gateway_engine, case_id) == ("in_programme", 4)
