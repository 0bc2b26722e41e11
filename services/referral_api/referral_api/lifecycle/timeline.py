"""A case's history in plain words for the officer.

Providers' free text (notes, cancellation reasons) may hold health details, so
it never appears here; nor does anything about an assessment beyond its
outcome. Only the contract's coded values are put into words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from diversion_common.contracts import (
    AbsenceCategory,
    AppointmentKind,
    AppointmentMode,
    AssessmentOutcome,
    CancelledBy,
    ContactMethod,
    ContactOutcome,
    Intervention,
    Pathway,
    ProviderClosureReason,
    Punctuality,
    RejectionReason,
)
from referral_api.lifecycle.facts import PROVIDER_KINDS, Fact, FactKind, ordered
from referral_api.lifecycle.fold import fold_snapshot, superseded
from referral_api.lifecycle.pathway import SCHEME_TIME_ZONE

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_PATHWAY = {
    Pathway.adult_deferred_summons: "adult deferred summons",
    Pathway.youth_community_resolution: "youth community resolution",
}
_APPOINTMENT_KIND = {
    AppointmentKind.assessment: "an assessment",
    AppointmentKind.intervention: "an intervention",
    AppointmentKind.session: "a session",
    AppointmentKind.follow_up: "a follow-up",
}
_MODE = {
    AppointmentMode.in_person: "in person",
    AppointmentMode.phone: "by phone",
    AppointmentMode.video: "by video",
    AppointmentMode.online: "online",
}
_CONTACT_METHOD = {
    ContactMethod.phone: "by phone",
    ContactMethod.sms: "by text message",
    ContactMethod.email: "by email",
    ContactMethod.letter: "by letter",
    ContactMethod.in_person: "in person",
    ContactMethod.video: "by video call",
}
_CONTACT_OUTCOME = {
    ContactOutcome.reached: "reached them",
    ContactOutcome.no_answer: "no answer",
    ContactOutcome.message_left: "left a message",
    ContactOutcome.wrong_details: "the contact details were wrong",
}
_ABSENCE = {
    AbsenceCategory.acceptable: "acceptable absence",
    AbsenceCategory.unacceptable: "unacceptable absence",
    AbsenceCategory.logistics: "the service could not hold it",
}
_ASSESSMENT = {
    AssessmentOutcome.suitable_for_programme: "suitable for programme",
    AssessmentOutcome.referred_to_treatment: "referred to treatment",
    AssessmentOutcome.not_suitable: "not suitable",
}
_REJECTION = {
    RejectionReason.out_of_area: "out of area",
    RejectionReason.no_capacity: "no capacity",
    RejectionReason.not_suitable: "not suitable",
    RejectionReason.other: "other reason",
}
_CLOSURE = {
    ProviderClosureReason.moved_away: "the person moved away",
    ProviderClosureReason.in_custody: "the person is in custody",
    ProviderClosureReason.died: "the person died",
    ProviderClosureReason.transferred: "transferred to another service",
    ProviderClosureReason.other: "other reason",
}
_INTERVENTION = {
    Intervention.online_intervention_1: "online intervention 1",
    Intervention.online_intervention_2: "online intervention 2",
    Intervention.follow_up: "the personal follow-up",
}


def when(at: datetime | str) -> str:
    """"3 Dec 2026 18:00", London time, whatever the machine's locale."""
    local = (at if isinstance(at, datetime) else datetime.fromisoformat(at)).astimezone(SCHEME_TIME_ZONE)
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year} {local:%H:%M}"


def _code(value: Any) -> str:
    # A police withdrawal reason is a code such as "not_in_public_interest"; codes only.
    return str(value).replace("_", " ").replace("-", " ")


def _received(data: Mapping[str, Any]) -> str:
    text = f"Referral received: {_PATHWAY[Pathway(data['pathway'])]} pathway"
    if data.get("needs_yju"):
        text += "; waiting for the Youth Justice Unit to decide"
    return text


def _yju(data: Mapping[str, Any]) -> str:
    if data["decision"] == "divert":
        return "The Youth Justice Unit decided the young person may be diverted"
    return "The Youth Justice Unit declined diversion"


def _booked(data: Mapping[str, Any]) -> str:
    how = [_MODE[AppointmentMode(data["mode"])]]
    if data.get("out_of_hours"):
        how.append("outside office hours")
    return (
        f"The provider booked {_APPOINTMENT_KIND[AppointmentKind(data['kind'])]} ({', '.join(how)}) "
        f"for {when(data['starts_at'])} (appointment {data['appointment_id']})"
    )


def _cancelled(data: Mapping[str, Any]) -> str:
    by = "the provider" if CancelledBy(data["cancelled_by"]) is CancelledBy.provider else "the person"
    return f"Appointment {data['appointment_id']} cancelled by {by}"


def _attended(data: Mapping[str, Any]) -> str:
    late = Punctuality(data.get("punctuality", Punctuality.on_time)) is Punctuality.late
    return f"Attended appointment {data['appointment_id']}" + (" (late)" if late else "")


def _intervention(data: Mapping[str, Any]) -> str:
    intervention = Intervention(data["intervention"])
    if intervention is Intervention.session:
        return f"Completed session {data['session_number']} of 6"
    return f"Completed {_INTERVENTION[intervention]}"


_DESCRIBE: dict[FactKind, Callable[[Mapping[str, Any]], str]] = {
    FactKind.referral_received: _received,
    FactKind.yju_decided: _yju,
    FactKind.routed: lambda data: "Sent to a treatment provider",
    FactKind.unroutable: lambda data: "No treatment provider could take the case",
    FactKind.withdrawn: lambda data: f"The police withdrew the referral ({_code(data['reason'])})",
    FactKind.referral_accepted: lambda data: "The provider accepted the referral",
    FactKind.referral_rejected: lambda data: (
        f"The provider could not take the referral: {_REJECTION[RejectionReason(data['reason'])]}"
    ),
    FactKind.contact_attempted: lambda data: (
        f"The provider tried to contact the person {_CONTACT_METHOD[ContactMethod(data['method'])]}: "
        f"{_CONTACT_OUTCOME[ContactOutcome(data['outcome'])]}"
    ),
    FactKind.appointment_booked: _booked,
    FactKind.appointment_cancelled: _cancelled,
    FactKind.appointment_attended: _attended,
    FactKind.appointment_missed: lambda data: (
        f"Missed appointment {data['appointment_id']}: {_ABSENCE[AbsenceCategory(data['reason_category'])]}"
    ),
    FactKind.assessment_completed: lambda data: (
        f"Assessment completed: {_ASSESSMENT[AssessmentOutcome(data['outcome'])]}"
    ),
    FactKind.intervention_completed: _intervention,
    FactKind.course_completed: lambda data: "The person completed the programme",
    FactKind.engagement_refused: lambda data: "The person said they will not take part",
    FactKind.case_closed_by_provider: lambda data: (
        f"The provider closed the case: {_CLOSURE[ProviderClosureReason(data['reason'])]}"
    ),
}


_RULE = {
    "missed_appointments": "a second unacceptable missed appointment",
    "engagement_refused": "the person refused to take part",
    "no_contact": "no successful contact after repeated attempts",
    "assessment_overdue": "no assessment by its deadline",
    "completion_overdue": "the programme not completed by its deadline",
}
_DEADLINE = {"assessment": "the assessment", "completion": "completing the programme", "oic_review": "the officer's review of the breach request"}
_ADDRESSEE = {"court": "the magistrates' court", "yju": "the Youth Justice Unit"}


def _reminder(data: Mapping[str, Any]) -> str:
    return f"Reminder: the deadline for {_DEADLINE[data['deadline']]} is {when(data['due_at'])}"


def _raised(data: Mapping[str, Any]) -> str:
    return f"Breach request raised for {_ADDRESSEE[data['addressee']]}: {_RULE[data['rule']]}; waiting for the officer in the case to review it"


def _withdrawn(data: Mapping[str, Any]) -> str:
    return f"Breach request withdrawn ({_code(data['reason'])})"


_DESCRIBE.update({
    FactKind.warning_issued: lambda data: f"Warning: unacceptable absence from appointment {data['appointment_id']}; a second one raises a breach request",
    FactKind.reminder_sent: _reminder,
    FactKind.breach_raised: _raised,
    FactKind.breach_submitted: lambda data: "The officer in the case submitted the breach request",
    FactKind.breach_acknowledged: lambda data: "The breach request was acknowledged",
    FactKind.breach_hearing_scheduled: lambda data: f"Hearing scheduled for {when(data['hearing_at'])}",
    FactKind.breach_outcome_recorded: lambda data: f"Outcome recorded on the breach request: {_code(data['outcome'])}",
    FactKind.breach_withdrawn: _withdrawn,
})


def describe(fact: Fact) -> str:
    words = _DESCRIBE.get(fact.kind)
    if words is None and fact.kind in PROVIDER_KINDS:
        # A provider event type new to the contract reads by its name until it is given words here.
        return f"The provider reported: {_code(fact.kind.value.replace('.', ' '))}"
    return _DESCRIBE[fact.kind](fact.data)


def corrected(facts: Iterable[Fact]) -> set[tuple[str, str]]:
    """The (source, source_id) of appointment outcomes that a later report about the same appointment
    supersedes (the fold no longer counts them), over a whole log: ``fold.superseded`` decides."""
    distinct = ordered(facts)
    snapshot = fold_snapshot(distinct)
    return {fact.key for fact in distinct if superseded(snapshot, fact)}
