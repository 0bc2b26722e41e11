"""Who sees what of a breach request and of a young person's case, without a database: the view
tables name a builder for every field, the records name nothing about the person, and the facts a
court or YJU is shown after submission are those recorded between the submission and the closure."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from diversion_common.contracts import CaseStatus
from referral_api.breaches.schemas import DecisionOutcome
from referral_api.breaches.views import BREACH_REQUEST_VIEWS, FIELD_BUILDERS, phase, reported_after_submission, version
from referral_api.lifecycle.facts import FactKind, court_source, police_source
from referral_api.visibility import Phase, unbuilt
from referral_api.youth_justice import service as yju
from referral_api.lifecycle.enforcement import Due, DueKind, assess, rules_for
from referral_api.lifecycle.facts import RULES_SOURCE
from support.case_log import ADULT, POLICE, CaseLog, at

# Anything that says who the person is, what they did, or anyone's free text about them.
ABOUT_THE_PERSON = {
    "person", "offence", "officer", "evidence", "attendance", "warnings", "deadlines", "reported_after_submission",
    "withdrawal_note", "note", "young_person", "guardian", "drugs", "checks", "district", "encounter_at",
    "age_at_encounter", "previous_diversions",
}
COURT = uuid.UUID(int=300)


def fields(model: type[BaseModel]) -> set[str]:
    """Every field name the model shows, nested ones included."""
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        for nested in getattr(info.annotation, "__args__", (info.annotation,)):
            if isinstance(nested, type) and issubclass(nested, BaseModel):
                names |= fields(nested)
    return names


def test_every_field_of_every_view_has_its_one_builder():
    assert unbuilt(list(BREACH_REQUEST_VIEWS.values()), FIELD_BUILDERS) == set()
    assert unbuilt(list(yju.YJU_CASE_VIEWS.values()), yju.FIELD_BUILDERS) == set()


def test_a_closed_request_or_an_ended_case_shows_nothing_about_the_person():
    records = [BREACH_REQUEST_VIEWS[(role, Phase.closed)] for role, _ in BREACH_REQUEST_VIEWS if role.value != "police"]
    for model in [*records, yju.YJU_CASE_VIEWS[Phase.closed]]:
        assert fields(model) & ABOUT_THE_PERSON == set(), model.__name__
    assert set(DecisionOutcome.model_fields) == {"outcome", "recorded_at"}


def test_the_unit_keeps_seeing_the_young_person_until_the_case_has_ended():
    assert {s for s in CaseStatus if yju.case_phase(s) is Phase.closed} == {
        CaseStatus.declined_by_yju, CaseStatus.withdrawn, CaseStatus.completed, CaseStatus.closed_by_provider, CaseStatus.breach_decided,
    }


def submitted_log() -> tuple[CaseLog, uuid.UUID]:
    """Two unacceptable misses, the request the rules raise, submitted by the officer."""
    log = CaseLog(ADULT)
    log.routed(at(1))
    log.event("referral.accepted", at(2))
    for appointment_id, hours in (("a-1", 3), ("a-2", 50)):
        log.book(appointment_id, at(hours), at(hours + 24))
        log.event("appointment.missed", at(hours + 25), appointment_id=appointment_id, reason_category="unacceptable")
    while dues := [d for d in assess(log.state(), at(90), rules_for(ADULT)) if d.kind is not DueKind.reminder]:
        raise_or_warn(log, dues[0])
    request = log.state().open_breach_request
    log.add(FactKind.breach_submitted, at(92), police_source(POLICE), {"breach_request_id": str(request.id)})
    return log, request.id


def raise_or_warn(log: CaseLog, due: Due) -> None:
    if due.kind is DueKind.warning:
        log.add(FactKind.warning_issued, at(90), RULES_SOURCE, {"appointment_id": due.appointment_id}, source_id=due.key)
        return
    assert due.kind is DueKind.breach
    log.add(FactKind.breach_raised, at(90), RULES_SOURCE, {
        "breach_request_id": str(uuid.uuid4()), "rule": due.rule.value, "basis_key": due.key, "addressee": "court",
        "court": "reading-magistrates", "evidence": list(due.evidence), "deadlines": {},
    }, source_id=due.key)


def test_facts_recorded_between_submission_and_closure_are_shown_and_each_raises_the_version():
    log, request_id = submitted_log()
    assert reported_after_submission(log.state().breach_request(request_id), log.facts) == []
    steps = log.state().breach_request(request_id).steps

    corrected = log.event("appointment.attended", at(75), appointment_id="a-2")  # happened before the submission
    new = log.event("contact.attempted", at(93), method="phone", outcome="reached")
    request = log.state().breach_request(request_id)
    assert [(f.key, corrects) for f, corrects in reported_after_submission(request, log.facts)] == [(corrected.key, True), (new.key, False)]
    assert version(request, log.facts) == steps + 2
    assert phase(request) is Phase.open

    log.add(FactKind.breach_acknowledged, at(94), court_source(COURT), {"breach_request_id": str(request_id)})
    log.add(FactKind.breach_withdrawn, at(95), police_source(POLICE), {"breach_request_id": str(request_id), "reason": "error"})
    log.event("appointment.attended", at(96), appointment_id="a-1")  # after the closure: not the court's to weigh
    closed = log.state().breach_request(request_id)
    assert phase(closed) is Phase.closed
    assert [f.key for f, _ in reported_after_submission(closed, log.facts)] == [corrected.key, new.key]
    assert version(closed, log.facts) == steps + 2 + 2
