"""POST /v1/referrals: the police system's one quick call."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.credentials import Role
from diversion_common.observability import JsonFormatter
from referral_api.case_log.tables import CaseFact
from referral_api.cases.tables import Case, IdempotencyRecord
from referral_api.messaging.tables import OutboxMessage
from support.referrals import REMOVE, adult_referral, years_ago, youth_referral

PROBLEM = "application/problem+json"


def count(engine, table) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(table))


def nothing_written(engine) -> bool:
    return all(count(engine, table) == 0 for table in (Case, CaseFact, OutboxMessage, IdempotencyRecord))


def test_an_adult_referral_is_accepted_as_a_case_awaiting_routing(api, police, referral_engine):
    response = api.post("/v1/referrals", json=adult_referral(), headers=police)

    assert response.status_code == 201
    case = response.json()
    assert case["status"] == "awaiting_routing"
    assert case["pathway"] == "adult_deferred_summons"
    assert case["force"] == "thames-valley"
    assert response.headers["Location"] == f"/v1/referrals/{case['id']}"
    assert api.get(response.headers["Location"], headers=police).json()["id"] == case["id"]


def test_routing_is_requested_in_the_same_transaction_without_officer_or_checks(api, police, referral_engine):
    case = api.post("/v1/referrals", json=adult_referral(), headers=police).json()

    with Session(referral_engine) as session:
        messages = list(session.scalars(select(OutboxMessage)))
    assert [m.topic for m in messages] == ["case.routing_requested"]
    payload = messages[0].payload
    assert payload["case_id"] == case["id"]
    assert payload["subject"]["family_name"] == "Synthetic"
    for withheld in ("officer", "checks", "body_worn_video_reference", "police_reference", "previous_diversions"):
        assert withheld not in payload
    assert "ethnicity" not in payload["subject"]


def test_a_young_person_is_on_the_community_resolution_pathway(api, police):
    response = api.post("/v1/referrals", json=youth_referral(), headers=police)
    assert response.status_code == 201
    assert response.json()["pathway"] == "youth_community_resolution"
    assert response.json()["status"] == "awaiting_routing"


def test_a_young_person_with_a_previous_diversion_waits_for_the_yju(api, police, referral_engine):
    response = api.post("/v1/referrals", json=youth_referral(previous_diversions=1), headers=police)
    assert response.json()["status"] == "awaiting_yju_decision"
    assert count(referral_engine, OutboxMessage) == 0


def test_age_on_the_encounter_date_decides_the_pathway(api, police):
    # Seventeen on the day of the encounter, eighteen today: still the youth pathway.
    encounter = {"occurred_at": "2026-01-10T12:00:00+00:00", "district": "oxford"}
    referral = youth_referral(encounter=encounter, subject={"date_of_birth": "2008-01-11"})
    response = api.post("/v1/referrals", json=referral, headers=police)
    assert response.status_code == 201, response.text
    assert response.json()["pathway"] == "youth_community_resolution"


@pytest.mark.parametrize(
    ("referral", "pointer"),
    [
        (adult_referral(body_worn_video_reference=REMOVE), "/body_worn_video_reference"),
        (youth_referral(guardian=REMOVE), "/guardian"),
        (youth_referral(checks={"guardian_contacted": False}), "/checks/guardian_contacted"),
        (adult_referral(consent_to_share=False), "/consent_to_share"),
        (adult_referral(checks={"pnc_checked": False}), "/checks/pnc_checked"),
        (adult_referral(subject={"date_of_birth": "2999-01-01"}), "/subject/date_of_birth"),
        (adult_referral(encounter={"occurred_at": "2999-01-01T10:00:00+00:00"}), "/encounter/occurred_at"),
        (adult_referral(encounter={"district": "atlantis"}), "/encounter/district"),
        (adult_referral(encounter={"district": "portsmouth"}), "/encounter/district"),
        (adult_referral(encounter={"occurred_at": "2026-01-10T12:00:00"}), "/encounter/occurred_at"),
        (adult_referral(subject={"date_of_birth": years_ago(8)}), "/subject/date_of_birth"),
        (adult_referral(subject={"phone": None, "email": None, "contact_preferences": {"preferred_method": "letter"}}), "/subject/phone"),
        (adult_referral(subject={"ethnicity": "white"}), "/subject/ethnicity"),
        (adult_referral(drugs=[]), "/drugs"),
        (adult_referral(drugs=[{"name": "cannabis", "class": "D"}]), "/drugs/0/class"),
        (adult_referral(previous_diversions=-1), "/previous_diversions"),
        (adult_referral(previous_diversions="two"), "/previous_diversions"),
        (adult_referral(officer=REMOVE), "/officer"),
        (adult_referral(unexpected="field"), "/unexpected"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_bad_input_is_a_problem_naming_the_field_and_writes_nothing(api, police, referral_engine, referral, pointer):
    response = api.post("/v1/referrals", json=referral, headers=police)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422
    assert pointer in [error["pointer"] for error in problem["errors"]]
    assert nothing_written(referral_engine)


def test_every_offending_field_is_named_at_once(api, police):
    referral = adult_referral(body_worn_video_reference=REMOVE, consent_to_share=False, checks={"niche_checked": False})
    pointers = {e["pointer"] for e in api.post("/v1/referrals", json=referral, headers=police).json()["errors"]}
    assert {"/body_worn_video_reference", "/consent_to_share", "/checks/niche_checked"} <= pointers


def test_problems_and_logs_carry_no_personal_data(api, police, diversion_logs):
    referral = adult_referral(
        subject={"given_name": "Zebedee", "family_name": "Quixotic", "date_of_birth": "2999-02-03", "email": "zq@person.example"},
        body_worn_video_reference=REMOVE,
    )
    referral["subject"]["phone"] = "not a phone"
    response = api.post("/v1/referrals", json=referral, headers=police)
    api.post("/v1/referrals", json=adult_referral(subject={"given_name": "Zebedee"}), headers=police)
    assert response.status_code == 422
    assert len(diversion_logs) >= 2  # the access log of each call, at least
    logged = "\n".join(JsonFormatter().format(record) for record in diversion_logs)
    for secret in ("Zebedee", "Quixotic", "2999-02-03", "zq@person.example", "not a phone"):
        assert secret not in response.text
        assert secret not in logged


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b'{"police_reference": ', "application/json", 400),
        (b"police_reference=1", "application/x-www-form-urlencoded", 415),
        (b"<referral/>", "text/xml", 415),
        (b"[]", "application/json", 422),
    ],
)
def test_unreadable_bodies_are_problems(api, police, referral_engine, content, content_type, status):
    response = api.post("/v1/referrals", content=content, headers={**police, "Content-Type": content_type})
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM
    assert nothing_written(referral_engine)


def test_an_oversized_body_is_refused(api, police, referral_engine):
    referral = adult_referral()
    referral["padding"] = "x" * 70_000
    response = api.post("/v1/referrals", json=referral, headers=police)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert nothing_written(referral_engine)


def test_an_oversized_chunked_body_is_refused(api, police, referral_engine):
    def chunks():
        yield b'{"police_reference": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    response = api.post("/v1/referrals", content=chunks(), headers={**police, "Content-Type": "application/json"})
    assert response.status_code == 413
    assert nothing_written(referral_engine)


def test_without_credentials_the_answer_is_401(api, referral_engine):
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Bearer dl_" + uuid.uuid4().hex + "_guess"}):
        response = api.post("/v1/referrals", json=adult_referral(), headers=headers)
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["WWW-Authenticate"] == "Bearer"
    assert nothing_written(referral_engine)


def test_a_key_with_a_tampered_secret_is_refused(api, police):
    tampered = {"Authorization": police["Authorization"][:-2] + "zz"}
    assert api.get("/v1/referrals", headers=tampered).status_code == 401


def test_a_credential_of_another_role_gets_403(api, yju, referral_engine):
    response = api.post("/v1/referrals", json=adult_referral(), headers=yju)
    assert response.status_code == 403
    assert nothing_written(referral_engine)


def test_the_same_key_and_body_replays_the_original_answer(api, police, referral_engine):
    referral = adult_referral()
    headers = {**police, "Idempotency-Key": "retry-1"}
    first = api.post("/v1/referrals", json=referral, headers=headers)
    second = api.post("/v1/referrals", json=referral, headers=headers)

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Location"] == first.headers["Location"]
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(referral_engine, Case) == 1
    assert count(referral_engine, OutboxMessage) == 1


def test_the_same_key_with_another_body_is_a_422(api, police, referral_engine):
    headers = {**police, "Idempotency-Key": "retry-2"}
    api.post("/v1/referrals", json=adult_referral(), headers=headers)
    response = api.post("/v1/referrals", json=adult_referral(), headers=headers)
    assert response.status_code == 422
    assert response.json()["type"].endswith("idempotency-key-reused")
    assert count(referral_engine, Case) == 1


def test_keys_are_per_client(api, police, issue, referral_engine):
    other_system = issue(Role.police, force="thames-valley")
    api.post("/v1/referrals", json=adult_referral(), headers={**police, "Idempotency-Key": "shared"})
    response = api.post("/v1/referrals", json=adult_referral(), headers={**other_system, "Idempotency-Key": "shared"})
    assert response.status_code == 201
    assert count(referral_engine, Case) == 2


def test_the_same_reference_without_a_key_is_a_409_pointing_at_the_case(api, police, referral_engine):
    referral = adult_referral()
    first = api.post("/v1/referrals", json=referral, headers=police)
    again = api.post("/v1/referrals", json={**referral, "drugs": [{"name": "cocaine", "class": "A"}]}, headers=police)

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["existing"] == first.headers["Location"]
    assert count(referral_engine, Case) == 1


def test_another_force_may_use_the_same_reference(api, police, other_police):
    reference = "43/77777/26"
    assert api.post("/v1/referrals", json=adult_referral(police_reference=reference), headers=police).status_code == 201
    hampshire = adult_referral(police_reference=reference, encounter={"district": "southampton"})
    assert api.post("/v1/referrals", json=hampshire, headers=other_police).status_code == 201


def test_concurrent_retries_with_one_key_create_one_case(api, police, referral_engine):
    referral = adult_referral()
    headers = {**police, "Idempotency-Key": "storm"}
    answers: list = []

    def post() -> None:
        answers.append(api.post("/v1/referrals", json=referral, headers=headers))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert count(referral_engine, Case) == 1


def test_concurrent_posts_of_one_reference_without_a_key_create_one_case(api, police, referral_engine):
    referral = adult_referral()
    answers: list = []
    threads = [threading.Thread(target=lambda: answers.append(api.post("/v1/referrals", json=referral, headers=police))) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(a.status_code for a in answers) == [201] + [409] * 5
    assert count(referral_engine, Case) == 1


def test_responses_carry_the_callers_request_id_or_one_made_for_them(api, police):
    police_system_id = str(uuid.uuid4())
    response = api.post("/v1/referrals", json=adult_referral(), headers={**police, "X-Request-ID": police_system_id})
    assert response.headers["X-Request-ID"] == police_system_id
    # A UUID without hyphens is the same id, kept in its canonical form.
    response = api.get("/v1/referrals", headers={**police, "X-Request-ID": uuid.UUID(police_system_id).hex})
    assert response.headers["X-Request-ID"] == police_system_id
    made = api.get("/v1/referrals", headers=police).headers["X-Request-ID"]
    assert uuid.UUID(made) and made != police_system_id


@pytest.mark.parametrize("example", ["adult-referral.json", "youth-referral-previous-diversion.json"])
def test_the_readme_examples_are_accepted(api, police, example):
    from pathlib import Path

    body = json.loads((Path(__file__).resolve().parents[3] / "docs" / "examples" / example).read_text())
    response = api.post("/v1/referrals", json=body, headers=police)
    assert response.status_code == 201, response.text


def test_the_documented_example_is_the_readme_example():
    from pathlib import Path

    from referral_api.cases.schemas import EXAMPLE_ADULT_REFERRAL

    readme_example = json.loads((Path(__file__).resolve().parents[3] / "docs" / "examples" / "adult-referral.json").read_text())
    assert EXAMPLE_ADULT_REFERRAL == readme_example


def test_an_encounter_late_in_the_evening_before_an_eighteenth_birthday_counts_locally(api, police):
    # 23:30 UTC on 9 May 2026 is 00:30 on 10 May in Reading: the person is 18 there.
    referral = adult_referral(
        encounter={"occurred_at": "2026-05-09T23:30:00Z", "district": "reading"},
        subject={"date_of_birth": "2008-05-10"},
    )
    response = api.post("/v1/referrals", json=referral, headers=police)
    assert response.status_code == 201, response.text
    assert response.json()["pathway"] == "adult_deferred_summons"


def test_the_encounter_time_keeps_its_instant_whatever_the_offset(api, police, referral_engine):
    referral = adult_referral(encounter={"occurred_at": "2026-06-10T00:30:00+01:00"})
    api.post("/v1/referrals", json=referral, headers=police)
    with Session(referral_engine) as session:
        [message] = session.scalars(select(OutboxMessage))
    assert message.payload["encounter_date"] == "2026-06-10"


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_out_of_range_time_is_a_problem_not_a_crash(api, police, value):
    listed = api.get("/v1/referrals", params={"updated_since": value}, headers=police)
    referred = api.post("/v1/referrals", json=adult_referral(encounter={"occurred_at": value}), headers=police)
    assert listed.status_code == referred.status_code == 422


def test_an_encounter_with_no_local_date_is_a_problem_not_a_crash(api, police):
    # Midnight UTC on 1 January of year 1 is still 31 December of year 0 in London (LMT).
    referral = adult_referral(encounter={"occurred_at": "0001-01-01T00:00:00Z", "district": "reading"})
    response = api.post("/v1/referrals", json=referral, headers=police)
    assert response.status_code == 422, response.text
