"""Whether a new provider fact may join a case's log.

The fold copes with any fact; these rules keep out the ones that make no sense,
so a provider hears at once that its event was not recorded, and why. Details
are plain words for the provider's staff and carry no personal data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from diversion_common.contracts import CaseStatus, Intervention, Pathway
from referral_api.lifecycle.facts import APPOINTMENT_OUTCOME_KINDS, PROVIDER_KINDS, Fact, FactKind
from referral_api.lifecycle.fold import AppointmentStatus, CaseState
from referral_api.lifecycle.programme import intervention_in_pathway


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


CASE_ENDED = "case_ended"
NOT_WITH_PROVIDER = "not_with_provider"
APPOINTMENT_NOT_BOOKED = "appointment_not_booked"
INTERVENTION_NOT_IN_PATHWAY = "intervention_not_in_pathway"
ALREADY_ANSWERED = "already_answered"
APPOINTMENT_HAS_OUTCOME = "appointment_has_outcome"
BEFORE_REFERRAL = "before_referral"

# Clocks differ: a provider's time may run this far behind the gateway's routing time.
CLOCK_ALLOWANCE = timedelta(minutes=5)

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
    if state.provider_id is None or fact.provider_id != state.provider_id:
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
    if fact.kind is FactKind.appointment_booked:
        outcome = next((a.outcome for a in state.programme.appointments if a.appointment_id == fact.data["appointment_id"]), None)
        if outcome in (AppointmentStatus.attended, AppointmentStatus.missed):
            return Refusal(
                APPOINTMENT_HAS_OUTCOME,
                f"Appointment {fact.data['appointment_id']} already took place or was missed; book the next one under a new appointment_id.",
            )
    if fact.kind in APPOINTMENT_OUTCOME_KINDS:
        appointment_id = fact.data["appointment_id"]
        booked = {a.appointment_id for a in state.programme.appointments if a.booked_at is not None}
        if appointment_id not in booked:
            return Refusal(
                APPOINTMENT_NOT_BOOKED,
                f"Appointment {appointment_id} has not been booked for this case; report appointment.booked first.",
            )
    if fact.kind is FactKind.intervention_completed and state.pathway is not None:
        intervention = Intervention(fact.data["intervention"])
        if not intervention_in_pathway(state.pathway, intervention):
            return Refusal(INTERVENTION_NOT_IN_PATHWAY, _wrong_pathway(state.pathway, intervention))
    return None


def _wrong_pathway(pathway: Pathway, intervention: Intervention) -> str:
    if pathway == Pathway.adult_deferred_summons:
        return f"{intervention.value} is part of the young people's programme, not the adult one."
    return f"{intervention.value} is part of the adult programme, not the young people's."
