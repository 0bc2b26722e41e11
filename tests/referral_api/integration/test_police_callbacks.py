"""An administrator registers each force's callback; status changes the police act on become
notifications, added in the same transaction as the change."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.contracts import CaseStatus
from diversion_common.credentials import Role
from referral_api.callbacks.service import NOTIFIED_STATUSES, notify_status_changed
from referral_api.callbacks.tables import CallbackDelivery, CallbackSecret

URL = "https://police.example/diversion-link/events"
PROBLEM = "application/problem+json"


def put_callback(api, admin, force: str = "thames-valley", **body):
    return api.put(f"/v1/admin/police-callbacks/{force}", json={"url": URL, **body}, headers=admin)


def notify(engine, *, status: CaseStatus, force: str = "thames-valley", commit: bool = True) -> uuid.UUID:
    case_id = uuid.uuid4()
    with Session(engine) as session:
        notify_status_changed(session, case_id=case_id, force=force, police_reference="43/00001/26", status=status, version=3)
        session.commit() if commit else session.rollback()
    return case_id


def deliveries(engine) -> list[CallbackDelivery]:
    with Session(engine) as session:
        return list(session.scalars(select(CallbackDelivery).order_by(CallbackDelivery.created_at)))


# --- the administrator's API ---------------------------------------------------------


def test_registering_a_callback_shows_its_secret_once(api, admin):
    created = put_callback(api, admin)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == "/v1/admin/police-callbacks/thames-valley"
    body = created.json()
    assert body["force"] == "thames-valley" and body["url"] == URL and body["active"] is True
    assert body["signing_secret"].startswith("whsec_")

    changed = put_callback(api, admin, active=False)
    assert changed.status_code == 200
    assert "signing_secret" not in changed.json() and changed.json()["active"] is False
    assert api.get("/v1/admin/police-callbacks/thames-valley", headers=admin).json()["active"] is False
    assert [c["force"] for c in api.get("/v1/admin/police-callbacks", headers=admin).json()] == ["thames-valley"]


def test_changing_the_url_keeps_the_secret(api, admin, referral_engine):
    put_callback(api, admin)
    changed = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": "https://new.police.example/hook"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["url"] == "https://new.police.example/hook"
    with Session(referral_engine) as session:
        assert session.scalar(select(func.count()).select_from(CallbackSecret)) == 1


@pytest.mark.parametrize(
    ("url", "pointer"),
    [("http://police.example/hook", "/url"), ("ftp://police.example/hook", "/url"), ("not a url", "/url")],
)
def test_a_callback_url_must_be_https_unless_to_this_machine(api, admin, url, pointer):
    response = api.put("/v1/admin/police-callbacks/thames-valley", json={"url": url}, headers=admin)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert [e["pointer"] for e in response.json()["errors"]] == [pointer]


def test_plain_http_to_this_machine_is_allowed_for_local_runs(api, admin):
    assert api.put("/v1/admin/police-callbacks/hampshire", json={"url": "http://127.0.0.1:9000/hook"}, headers=admin).status_code == 201


def test_an_unknown_force_is_refused(api, admin):
    # Forces are reference data (GET /v1/reference/forces): one there is none of is not found; a code's shape is checked.
    response = put_callback(api, admin, force="atlantis")
    assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    assert api.get("/v1/admin/police-callbacks/atlantis", headers=admin).status_code == 404
    assert put_callback(api, admin, force="Not A Force").status_code == 422


def test_a_force_without_a_callback_is_not_found(api, admin):
    for response in (
        api.get("/v1/admin/police-callbacks/hampshire", headers=admin),
        api.post("/v1/admin/police-callbacks/hampshire/secrets", json={}, headers=admin),
    ):
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM


def test_a_rotation_issues_a_new_secret_and_keeps_the_old_one_for_the_overlap(api, admin, referral_engine):
    first = put_callback(api, admin).json()["signing_secret"]
    rotated = api.post("/v1/admin/police-callbacks/thames-valley/secrets", json={"overlap_hours": 2}, headers=admin)
    assert rotated.status_code == 201
    assert rotated.json()["signing_secret"] not in (None, first)
    with Session(referral_engine) as session:
        secrets = list(session.scalars(select(CallbackSecret).order_by(CallbackSecret.id)))
    assert [s.secret for s in secrets] == [first, rotated.json()["signing_secret"]]
    assert secrets[0].expires_at is not None and secrets[1].expires_at is None


def test_only_an_administrator_may_manage_callbacks(api, police, issue):
    assert api.get("/v1/admin/police-callbacks").status_code == 401
    for key in (police, issue(Role.yju, force="thames-valley")):
        assert put_callback(api, key).status_code == 403
        assert api.get("/v1/admin/deliveries", headers=key).status_code == 403


def test_unknown_deliveries_and_bad_cursors_are_problems(api, admin):
    assert api.get("/v1/admin/deliveries/msg_nothing", headers=admin).status_code == 404
    assert api.post("/v1/admin/deliveries/msg_nothing/redeliver", headers=admin).status_code == 404
    bad = api.get("/v1/admin/deliveries", params={"cursor": "nonsense"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "#query/cursor"


# --- notify_status_changed -----------------------------------------------------------


def test_only_the_statuses_the_police_act_on_are_notified(api, admin, referral_engine):
    put_callback(api, admin)
    for status in CaseStatus:
        notify(referral_engine, status=status)
    assert {d.payload["data"]["status"] for d in deliveries(referral_engine)} == {s.value for s in NOTIFIED_STATUSES}
    assert NOTIFIED_STATUSES == {
        CaseStatus.accepted_by_provider, CaseStatus.in_programme, CaseStatus.engagement_refused,
        CaseStatus.completed, CaseStatus.closed_by_provider, CaseStatus.declined_by_yju,
        CaseStatus.breach_requested, CaseStatus.breach_decided,
    }


def test_the_notification_is_thin_and_links_back_to_the_case(api, admin, referral_engine):
    put_callback(api, admin)
    case_id = notify(referral_engine, status=CaseStatus.completed)
    [delivery] = deliveries(referral_engine)
    assert (delivery.case_id, delivery.recipient, delivery.status, delivery.event_type) == (case_id, "thames-valley", "pending", "case.status_changed")
    assert delivery.id.startswith("msg_")
    payload = delivery.payload
    assert set(payload) == {"type", "timestamp", "data"} and payload["type"] == "case.status_changed"
    assert payload["data"] == {
        "case_id": str(case_id),
        "police_reference": "43/00001/26",
        "status": "completed",
        "version": 3,
        "links": {"case": f"http://127.0.0.1:8000/v1/referrals/{case_id}"},
    }


def test_nothing_is_notified_without_an_active_callback(api, admin, referral_engine):
    notify(referral_engine, status=CaseStatus.completed)  # no callback at all
    put_callback(api, admin, active=False)
    notify(referral_engine, status=CaseStatus.completed)
    put_callback(api, admin, force="hampshire")
    notify(referral_engine, status=CaseStatus.completed)  # only another force has one
    assert deliveries(referral_engine) == []
    notify(referral_engine, status=CaseStatus.completed, force="hampshire")
    assert [d.recipient for d in deliveries(referral_engine)] == ["hampshire"]


def test_a_change_that_is_rolled_back_notifies_nobody(api, admin, referral_engine):
    put_callback(api, admin)
    notify(referral_engine, status=CaseStatus.completed, commit=False)
    assert deliveries(referral_engine) == []


def test_the_administrator_lists_and_reads_notifications(api, admin, referral_engine):
    put_callback(api, admin)
    put_callback(api, admin, force="hampshire")
    ids = [notify(referral_engine, status=CaseStatus.in_programme, force=force) for force in ("thames-valley", "hampshire", "thames-valley")]
    first = api.get("/v1/admin/deliveries", params={"limit": 2}, headers=admin).json()
    second = api.get("/v1/admin/deliveries", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin).json()
    assert [d["case_id"] for d in first["items"] + second["items"]] == [str(i) for i in ids]
    assert second["next_cursor"] is None
    hampshire = api.get("/v1/admin/deliveries", params={"force": "hampshire"}, headers=admin).json()["items"]
    assert [d["case_id"] for d in hampshire] == [str(ids[1])]
    assert api.get("/v1/admin/deliveries", params={"status": "dead"}, headers=admin).json()["items"] == []
    detail = api.get(f"/v1/admin/deliveries/{hampshire[0]['id']}", headers=admin).json()
    assert detail["status"] == "pending" and detail["attempts_log"] == [] and detail["next_attempt_at"]


def test_a_pending_notification_cannot_be_redelivered(api, admin, referral_engine):
    put_callback(api, admin)
    notify(referral_engine, status=CaseStatus.completed)
    [delivery] = deliveries(referral_engine)
    response = api.post(f"/v1/admin/deliveries/{delivery.id}/redeliver", headers=admin)
    assert response.status_code == 409 and response.json()["delivery_status"] == "pending"
