"""The case's stored snapshot, the order of breach decisions and the timeline's pages, over real HTTP.

Both services run in process on their own databases, their relays linked (support/linked_services.py).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from sqlalchemy import delete
from sqlmodel import Session

from referral_api.breaches.scheduler import run_checks
from referral_api.case_log import service as case_log
from referral_api.case_log.tables import CaseSnapshotRow
from referral_api.case_events.recording import RULES_SOURCE
from referral_api.cases.tables import Case
from referral_api.lifecycle.facts import FactKind
from referral_api.lifecycle.fold import fold_snapshot
from referral_api.lifecycle.snapshots import snapshot_from_json
from support.referrals import youth_referral

from support.breach_cases import accepted_case, breach_requests, miss, provider


def stored_and_refolded(linked, case_id: str):
    with Session(linked.referral_engine) as session:
        row = session.get(CaseSnapshotRow, uuid.UUID(case_id))
        assert row is not None
        return snapshot_from_json(row.state), fold_snapshot(case_log.facts_of(session, uuid.UUID(case_id))), row.version


def test_the_stored_snapshot_is_the_refold_of_the_log_after_every_kind_of_writer(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    miss(adult, case_id, "a-1")  # a warning, from the rules
    miss(adult, case_id, "a-2")  # a breach request, from the rules
    adult.report("appointment.attended", case_id, appointment_id="a-2")  # its withdrawal, from the rules
    withdrawn = linked.api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "other"}, headers=linked.police)
    assert withdrawn.status_code == 200, withdrawn.text

    stored, refolded, version = stored_and_refolded(linked, case_id)
    assert stored == refolded
    assert version == stored.version == linked.case(case_id)["version"]


def test_a_case_without_its_snapshot_is_rebuilt_from_its_log_when_read(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    before = linked.case(case_id)
    with Session(linked.referral_engine) as session:
        session.execute(delete(CaseSnapshotRow).where(CaseSnapshotRow.case_id == uuid.UUID(case_id)))  # type: ignore[arg-type]
        session.commit()
    assert linked.case(case_id) == before
    stored, refolded, _ = stored_and_refolded(linked, case_id)
    assert stored == refolded
    assert adult.report("contact.attempted", case_id, method="phone", outcome="reached")["case_status"] == "in_programme"


def test_a_correction_withdraws_a_request_raised_with_a_future_date(linked):
    """Checks run with a clock ahead raise a request dated after the correction that removes its
    basis: the withdrawal is recorded after the raise, so it withdraws it (it used to sort first and
    leave the request stuck open)."""
    youth = provider(linked, pathways=("youth_community_resolution",), name="Reading Young People's Service")
    case_id = accepted_case(linked, youth, youth_referral())
    due = datetime.fromisoformat(linked.case(case_id)["programme"]["assessment_due"])
    assert run_checks(linked.referral_engine, due + timedelta(minutes=1)).checked == 1
    [raised] = breach_requests(linked, linked.police)
    assert (raised["rule"], raised["status"]) == ("assessment_overdue", "pending_oic_review")

    # Done today, before the deadline: the request's basis is gone.
    corrected = youth.report("assessment.completed", case_id, outcome="suitable_for_programme")

    [request] = breach_requests(linked, linked.police)
    assert (request["status"], request["withdrawal"]["reason"]) == ("withdrawn", "basis_corrected")
    assert corrected["case_status"] == linked.case(case_id)["status"] == "in_programme"


def test_the_timeline_pages_with_a_cursor_in_the_order_things_happened(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    start = datetime.now(UTC) - timedelta(minutes=1)
    for minute in range(7):  # reported in reverse: each one happened before the last one reported
        adult.report("contact.attempted", case_id, occurred_at=(start + timedelta(seconds=50 - 5 * minute)).isoformat(),
                     method="phone", outcome="no_answer")
    url = f"/v1/referrals/{case_id}/timeline"
    whole = linked.api.get(url, headers=linked.police).json()
    assert whole["next"] is None and whole["next_cursor"] is None
    assert len(whole["items"]) == whole["version"] == 10

    pages, following = [], f"{url}?limit=3"
    while following:
        page = linked.api.get(following, headers=linked.police)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 3
        pages.append(page.json())
        following = page.json()["next"]
    assert [len(p["items"]) for p in pages] == [3, 3, 3, 1]
    assert [item for p in pages for item in p["items"]] == whole["items"]
    times = [datetime.fromisoformat(i["at"]) for i in whole["items"]]
    assert times == sorted(times) and [i["seq"] for i in whole["items"]] != sorted(i["seq"] for i in whole["items"])
    by_cursor = linked.api.get(url, params={"cursor": pages[0]["next_cursor"], "limit": 3}, headers=linked.police).json()
    assert by_cursor["items"] == pages[1]["items"]


def test_a_timeline_page_is_at_most_500_and_a_bad_cursor_is_a_problem(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    url = f"/v1/referrals/{case_id}/timeline"
    for params in ({"limit": 501}, {"limit": 0}, {"cursor": "bm90LWEtY3Vyc29y"}):
        response = linked.api.get(url, params=params, headers=linked.police)
        assert response.status_code == 422, params
        assert response.headers["content-type"].startswith("application/problem+json")
    assert len(linked.api.get(url, params={"limit": 500}, headers=linked.police).json()["items"]) == 3


def _log_reminders(linked, case_id: str, count: int) -> None:
    """Facts straight onto the case's log (no HTTP): enough of them to fill more than a page."""
    with Session(linked.referral_engine) as session:
        case = session.get(Case, uuid.UUID(case_id))
        for n in range(count):
            case_log.append(session, case, kind=FactKind.reminder_sent, occurred_at=datetime.now(UTC), source=RULES_SOURCE,
                            source_id=f"{case_id}:page-{n}", data={"key": f"page-{n}", "deadline": "completion", "due_at": datetime.now(UTC).isoformat(), "breach_request_id": None})
        session.commit()


def test_a_timeline_without_a_limit_is_a_page_of_100_with_a_link_to_the_rest(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    _log_reminders(linked, case_id, 100)
    url = f"/v1/referrals/{case_id}/timeline"
    first = linked.api.get(url, headers=linked.police).json()
    assert len(first["items"]) == 100 and first["next"]
    rest = linked.api.get(first["next"], headers=linked.police).json()
    assert len(rest["items"]) == 3 and rest["next"] is None


def test_a_snapshot_that_moved_under_a_writer_is_not_overwritten(linked):
    adult = provider(linked)
    case_id = accepted_case(linked, adult)
    with Session(linked.referral_engine) as session:
        stale = case_log.snapshot_of(session, uuid.UUID(case_id))
    _log_reminders(linked, case_id, 1)  # another writer's fact, committed: the stored snapshot moved on
    with Session(linked.referral_engine) as session:
        with pytest.raises(case_log.SnapshotConflict):
            case_log._store(session, uuid.UUID(case_id), stale, replace(stale, version=stale.version + 1))
    stored, refolded, version = stored_and_refolded(linked, case_id)
    assert stored == refolded and version == stale.version + 1
