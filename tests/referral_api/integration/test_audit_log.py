"""Every call to referral_api is in its append-only audit log, refusals included; an admin reads it.

Our own request id names each record; the id a client chose is kept beside it as the
correlation id. No API changes the log, and the database refuses to.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from diversion_common.credentials import Role
from referral_api.audit.tables import AuditCase, AuditRecord
from referral_api.cases.tables import Case, CaseAccess
from support.referrals import adult_referral, youth_referral


def client_id_of(headers: dict[str, str]) -> str:
    return str(uuid.UUID(hex=headers["Authorization"].removeprefix("Bearer ").split("_")[1]))


def audit(api, admin, **params) -> list[dict]:
    response = api.get("/v1/admin/audit", params={"limit": 100, **params}, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def by_request(items: list[dict], response) -> dict:
    [item] = [i for i in items if i["correlation_id"] == response.headers["X-Request-ID"]]
    return item


def test_every_call_is_recorded_with_our_id_the_client_and_the_case(api, police, admin):
    police_system_id = str(uuid.uuid4())
    created = api.post("/v1/referrals", json=adult_referral(), headers={**police, "X-Request-ID": police_system_id})
    assert created.headers["X-Request-ID"] == police_system_id
    case_id = created.json()["id"]
    read = api.get(f"/v1/referrals/{case_id}", headers=police)
    again = api.get(f"/v1/referrals/{case_id}", headers={**police, "X-Request-ID": police_system_id})
    items = audit(api, admin)

    # The caller's id may come with several calls, each recorded under an id of its own (ours).
    intake, read_again = [i for i in items if i["correlation_id"] == police_system_id]
    assert (intake["route"], read_again["route"], again.status_code) == ("/v1/referrals", "/v1/referrals/{case_id}", 200)
    uuid.UUID(intake["request_id"])
    assert len({intake["request_id"], read_again["request_id"], police_system_id}) == 3
    assert intake["client_id"] == client_id_of(police)
    assert intake["actor"] == f"client:{client_id_of(police)}"
    assert (intake["role"], intake["method"], intake["route"], intake["status"]) == ("police", "POST", "/v1/referrals", 201)
    assert intake["case_ids"] == [case_id]

    reading = by_request(items, read)
    assert (reading["route"], reading["status"], reading["case_ids"]) == ("/v1/referrals/{case_id}", 200, [case_id])
    assert reading["path_ids"] == {"case_id": case_id}
    uuid.UUID(reading["correlation_id"])  # made for it, as none was sent


def test_refusals_are_recorded_too(api, police, other_police, admin, issue):
    case_id = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    body = adult_referral()
    api.post("/v1/referrals", json=body, headers=police)
    refused = {
        401: api.get("/v1/referrals"),
        403: api.get("/v1/referrals", headers=issue(Role.court)),
        404: api.get(f"/v1/referrals/{case_id}", headers=other_police),
        409: api.post("/v1/referrals", json=body, headers=police),
        422: api.get("/v1/referrals/Zebedee Quixotic", headers=police),
    }
    items = audit(api, admin)
    for status, response in refused.items():
        assert response.status_code == status
        assert by_request(items, response)["status"] == status

    assert by_request(items, refused[401])["client_id"] is None
    assert by_request(items, refused[401])["actor"] == "unauthenticated"
    assert by_request(items, refused[403])["role"] == "court"
    # Another force's try at the case is attributable to that force's client, on that case.
    other = by_request(items, refused[404])
    assert other["client_id"] == client_id_of(other_police) and other["case_ids"] == [case_id]
    # A path parameter that is not an id (it can be a name) is not stored.
    invalid = by_request(items, refused[422])
    assert invalid["route"] == "/v1/referrals/{case_id}" and invalid["path_ids"] is None and invalid["case_ids"] == []


def test_every_case_a_list_shows_is_attributed(api, police, admin):
    first = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    second = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    listed = api.get("/v1/referrals", headers=police)
    assert set(by_request(audit(api, admin), listed)["case_ids"]) == {first, second}


def test_the_admin_filters_by_case_client_status_and_time(api, police, other_police, admin):
    case_id = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    other_case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    api.get(f"/v1/referrals/{case_id}/timeline", headers=police)
    api.post(f"/v1/referrals/{other_case}/withdraw", json={"reason": "duplicate"}, headers=police)
    api.get(f"/v1/referrals/{case_id}", headers=other_police)

    about_case = audit(api, admin, case_id=case_id)
    assert [(i["method"], i["route"], i["status"]) for i in about_case] == [
        ("POST", "/v1/referrals", 201),
        ("GET", "/v1/referrals/{case_id}/timeline", 200),
        ("GET", "/v1/referrals/{case_id}", 404),
    ]
    assert {i["client_id"] for i in audit(api, admin, client_id=client_id_of(other_police))} == {client_id_of(other_police)}
    assert [i["route"] for i in audit(api, admin, status=404)] == ["/v1/referrals/{case_id}"]

    now = datetime.now(UTC)
    assert audit(api, admin, since=(now + timedelta(minutes=1)).isoformat()) == []
    assert audit(api, admin, until=(now - timedelta(minutes=1)).isoformat()) == []
    assert len(audit(api, admin, since=(now - timedelta(minutes=1)).isoformat(), case_id=case_id)) == 3


def test_the_log_is_paged_with_a_cursor(api, police, admin):
    for _ in range(5):
        api.get("/v1/referrals", headers=police)
    seen, cursor = [], None
    while True:
        page = api.get("/v1/admin/audit", params={"limit": 2, "client_id": client_id_of(police), **({"cursor": cursor} if cursor else {})}, headers=admin).json()
        seen += [i["request_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 5
    assert api.get("/v1/admin/audit", params={"cursor": "eyJ1IjoiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsImkiOiI5OTk5OTk5OTk5OTk5OTk5OTk5OTk5In0"}, headers=admin).status_code == 422


def test_only_an_admin_reads_the_log_and_no_api_changes_it(api, police, yju, admin):
    api.get("/v1/referrals", headers=police)
    assert api.get("/v1/admin/audit", headers=police).status_code == 403
    assert api.get("/v1/admin/audit", headers=yju).status_code == 403
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        assert api.request(method, "/v1/admin/audit", headers=admin).status_code == 405


def test_the_database_refuses_to_change_or_remove_a_record(api, police, referral_engine):
    case_id = api.post("/v1/referrals", json=adult_referral(), headers=police).json()["id"]
    for statement in (
        "UPDATE referral_audit_log SET status = 200",
        "DELETE FROM referral_audit_log",
        "UPDATE referral_audit_cases SET audit_id = audit_id + 1",
        "DELETE FROM referral_audit_cases",
    ):
        with Session(referral_engine) as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
            session.commit()
    if referral_engine.dialect.name == "postgresql":
        with Session(referral_engine) as session, pytest.raises(DBAPIError, match="append-only"):
            session.execute(text("TRUNCATE referral_audit_log"))
    with Session(referral_engine) as session:
        assert session.query(AuditRecord).count() == 1
        assert [str(row.case_id) for row in session.query(AuditCase)] == [case_id]


def refuse_audit_writes(engine) -> None:
    """A fault in the audit write itself: the database refuses every new audit record."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(
                "CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit store down'; END $$"
            ))
            conn.execute(text("CREATE TRIGGER audit_down BEFORE INSERT ON referral_audit_log FOR EACH ROW EXECUTE FUNCTION audit_down()"))
        else:
            conn.execute(text(
                "CREATE TRIGGER audit_down BEFORE INSERT ON referral_audit_log BEGIN SELECT RAISE(ABORT, 'audit store down'); END"
            ))


def test_a_change_is_answered_2xx_only_with_its_audit_record(api, police, referral_engine):
    created = api.post("/v1/referrals", json=youth_referral(), headers=police)
    assert created.status_code == 201
    with Session(referral_engine) as session:
        [record] = session.scalars(select(AuditRecord).where(AuditRecord.correlation_id == created.headers["X-Request-ID"]))
        assert record.status == 201
        assert [row.case_id for row in session.scalars(select(AuditCase).where(AuditCase.audit_id == record.id))] == [
            uuid.UUID(created.json()["id"])
        ]


def test_a_change_whose_audit_record_cannot_be_written_is_refused_503_and_changes_nothing(api, police, referral_engine):
    case_id = api.post("/v1/referrals", json=youth_referral(), headers=police).json()["id"]
    with Session(referral_engine) as session:
        cases_before = session.scalar(select(func.count()).select_from(Case))
        status_before = session.get(Case, uuid.UUID(case_id)).status
    refuse_audit_writes(referral_engine)

    refused = api.post("/v1/referrals", json=youth_referral(), headers=police)
    withdrawn = api.post(f"/v1/referrals/{case_id}/withdraw", json={"reason": "submitted_in_error"}, headers=police)
    read = api.get(f"/v1/referrals/{case_id}", headers=police)

    assert (refused.status_code, withdrawn.status_code, read.status_code) == (503, 503, 503)
    assert refused.headers["content-type"] == "application/problem+json"
    with Session(referral_engine) as session:
        assert session.scalar(select(func.count()).select_from(Case)) == cases_before
        assert session.get(Case, uuid.UUID(case_id)).status == status_before


def test_a_read_and_its_audit_record_commit_together(api, police, referral_engine):
    """The record of who read a case (its access row) and the call's audit record are one
    transaction: a read that cannot be audited leaves no trace of access either, and answers 503."""
    case_id = uuid.UUID(api.post("/v1/referrals", json=youth_referral(), headers=police).json()["id"])
    refuse_audit_writes(referral_engine)

    for path in (f"/v1/referrals/{case_id}", f"/v1/referrals/{case_id}/timeline", "/v1/referrals"):
        assert api.get(path, headers=police).status_code == 503

    with Session(referral_engine) as session:
        assert session.scalar(select(func.count()).select_from(CaseAccess).where(CaseAccess.case_id == case_id)) == 0
