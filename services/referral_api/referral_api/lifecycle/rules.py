"""Whether a new provider fact may join a case's log.

The fold copes with any fact; these rules keep out the ones that make no sense,
so a provider hears at once that its event was not recorded, and why. Details
are plain words for the provider's staff and carry no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from diversion_common.contracts import CLOCK_ALLOWANCE, CaseStatus, Intervention, Pathway
from referral_api.lifecycle.facts import APPOINTMENT_OUTCOME_KINDS, PROVIDER_KINDS, Fact, FactKind
from referral_api.lifecycle.fold import AppointmentStatus, CaseState
from referral_api.lifecycle.programme import intervention_in_pathway


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    # The same event may be taken later, once the fact it waits for is recorded (its booking):
    # the provider sends it again under the same webhook-id.
    retryable: bool = False


CASE_ENDED = "case_ended"
NOT_WITH_PROVIDER = "not_with_provider"
APPOINTMENT_NOT_BOOKED = "appointment_not_booked"
INTERVENTION_NOT_IN_PATHWAY = "intervention_not_in_pathway"
ALREADY_ANSWERED = "already_answered"
APPOINTMENT_HAS_OUTCOME = "appointment_has_outcome"
BEFORE_REFERRAL = "before_referral"
APPOINTMENT_BEFORE_ACCEPTANCE = "appointment_before_acceptance"
APPOINTMENT_STARTS_BEFORE_BOOKING = "appointment_starts_before_booking"
APPOINTMENT_NOT_STARTED = "appointment_not_started"
OUTCOME_BEFORE_BOOKING = "outcome_before_booking"

# Every comparison of times below allows CLOCK_ALLOWANCE (the contract's: a provider's clock may run
# that far from the gateway's routing time, and from the time an appointment was booked for).

# Attendance and absence are what a breach request cites: they must be of an appointment that has happened.
_TOOK_PLACE_OR_NOT = frozenset({FactKind.appointment_attended, FactKind.appointment_missed})

_ENDED_FOR_GOOD = {
    CaseStatus.withdrawn: "The referral has been withdrawn; the case takes no further events.",
    CaseStatus.declined_by_yju: "The Youth Justice Unit declined diversion; the case takes no further events.",
}
# A provider's own ending: what happened before it may still be reported late.
_ENDED_BY_PROVIDER = {
    CaseStatus.completed: "The case was completed before this event happened.",
    CaseStatus.closed_by_provider: "The case was closed before this event happened.",
}


def refusal(state: CaseState, fact: Fact) -> Refusal | None:
    """Why ``fact`` (a provider's, not yet in the log) may not be recorded, or None if it may."""
    if fact.kind not in PROVIDER_KINDS:
        raise ValueError(f"only provider facts are checked here, not {fact.kind.value}")
    # Checked first: a provider the case is not with learns nothing else about it.
    # A provider that declined the case has none of it, even before the gateway's next routing reaches the log.
    if state.provider_id is None or fact.provider_id != state.provider_id or fact.provider_id in state.rejected_by:
        return Refusal(NOT_WITH_PROVIDER, "This case is not with your service.")
    if state.status in _ENDED_FOR_GOOD:
        return Refusal(CASE_ENDED, _ENDED_FOR_GOOD[state.status])
    if state.status in _ENDED_BY_PROVIDER and state.ended_at is not None and fact.occurred_at > state.ended_at:
        return Refusal(CASE_ENDED, _ENDED_BY_PROVIDER[state.status])
    if state.routed_at is not None and fact.occurred_at < state.routed_at - CLOCK_ALLOWANCE:
        # Also keeps one mistyped date from moving the case's deadlines years back.
        return Refusal(BEFORE_REFERRAL, "The event is dated before the case was sent to your service.")
    if fact.kind is FactKind.referral_rejected and state.accepted_at is not None:
        return Refusal(ALREADY_ANSWERED, "You have already taken this case on; it can no longer be rejected.")
    if fact.kind is FactKind.referral_accepted and state.answered_at is not None and state.answered_at <= fact.occurred_at:
        # Only a second answer: an acceptance after work already begun (a booking, a call) is the provider's
        # answer, recorded; one dated before the first is a late fact, recorded, and moves the acceptance earlier.
        return Refusal(ALREADY_ANSWERED, "You have already accepted this referral.")
    if fact.kind is FactKind.appointment_booked:
        return _booking_refusal(state, fact)
    if fact.kind in APPOINTMENT_OUTCOME_KINDS:
        return _outcome_refusal(state, fact)
    if fact.kind is FactKind.intervention_completed and state.pathway is not None:
        intervention = Intervention(fact.data["intervention"])
        if not intervention_in_pathway(state.pathway, intervention):
            return Refusal(INTERVENTION_NOT_IN_PATHWAY, _wrong_pathway(state.pathway, intervention))
    return None


def _booking_refusal(state: CaseState, fact: Fact) -> Refusal | None:
    appointment_id = fact.data["appointment_id"]
    outcome = next((a.outcome for a in state.programme.appointments if a.appointment_id == appointment_id), None)
    if outcome in (AppointmentStatus.attended, AppointmentStatus.missed):
        return Refusal(
            APPOINTMENT_HAS_OUTCOME,
            f"Appointment {appointment_id} already took place or was missed; book the next one under a new appointment_id.",
        )
    starts_at = datetime.fromisoformat(str(fact.data["starts_at"]))
    accepted = _acceptance(state, fact)
    # When this booking is what takes the case on, the rule below says it more plainly.
    if accepted < fact.occurred_at and starts_at < accepted - CLOCK_ALLOWANCE:
        return Refusal(
            APPOINTMENT_BEFORE_ACCEPTANCE,
            f"Appointment {appointment_id} starts before your service accepted the case; it cannot be part of this case.",
        )
    if starts_at < fact.occurred_at - CLOCK_ALLOWANCE:
        return Refusal(
            APPOINTMENT_STARTS_BEFORE_BOOKING,
            f"Appointment {appointment_id} starts before the booking was made (occurred_at); an appointment is booked before it starts.",
        )
    return None


def _outcome_refusal(state: CaseState, fact: Fact) -> Refusal | None:
    appointment_id = fact.data["appointment_id"]
    appointment = next(
        (a for a in state.programme.appointments if a.appointment_id == appointment_id and a.booked_at is not None), None
    )
    if appointment is None or appointment.booked_at is None or appointment.starts_at is None:
        return Refusal(
            APPOINTMENT_NOT_BOOKED,
            f"Appointment {appointment_id} has not been booked for this case; report appointment.booked first, "
            "then send this event again under the same webhook-id.",
            retryable=True,
        )
    if fact.occurred_at < appointment.booked_at:
        return Refusal(
            OUTCOME_BEFORE_BOOKING, f"The event is dated before appointment {appointment_id} was booked."
        )
    if fact.kind not in _TOOK_PLACE_OR_NOT:
        return None  # an appointment may be cancelled before it starts
    if appointment.starts_at < _acceptance(state, fact) - CLOCK_ALLOWANCE:
        return Refusal(
            APPOINTMENT_BEFORE_ACCEPTANCE,
            f"Appointment {appointment_id} starts before your service accepted the case; it cannot be attended or missed on this case.",
        )
    if appointment.starts_at > fact.occurred_at + CLOCK_ALLOWANCE:
        return Refusal(
            APPOINTMENT_NOT_STARTED,
            f"Appointment {appointment_id} had not started by the event's occurred_at; report attendance or absence once it has started.",
        )
    return None


def _acceptance(state: CaseState, fact: Fact) -> datetime:
    """When the case was taken on once ``fact`` is recorded: the fold's acceptance (referral.accepted
    or the first work with the person, the earlier), which this fact, itself work, may make earlier."""
    if state.accepted_at is None:
        return fact.occurred_at
    return min(state.accepted_at, fact.occurred_at)


def _wrong_pathway(pathway: Pathway, intervention: Intervention) -> str:
    if pathway == Pathway.adult_deferred_summons:
        return f"{intervention.value} is part of the young people's programme, not the adult one."
    return f"{intervention.value} is part of the adult programme, not the young people's."
