"""A breach request's life: who may take which step from which state.

pending_oic_review -> submitted -> acknowledged -> hearing_scheduled (court only) -> outcome_recorded,
or withdrawn: by the officer in the case (a reasonable excuse, say) before the court or
YJU has decided, or by the system when a correction removes the basis of a request the
officer has not yet submitted.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

# The police's, courts' and YJUs' systems are told of them: the contract's vocabulary.
from diversion_common.contracts import CLOCK_ALLOWANCE, BreachRule, BreachStatus
from diversion_common.roles import Role
from diversion_common.vocabulary import enum_of


# Who decides on a breach request: for adults the magistrates' court for the encounter's
# district, for young people the force's Youth Justice Unit.
Addressee = enum_of("Addressee", Role.court, Role.yju, module=__name__)


class BreachStep(StrEnum):
    confirm = "confirm"  # the officer submits it
    withdraw = "withdraw"  # the officer decides not to proceed
    acknowledge = "acknowledge"
    schedule_hearing = "schedule_hearing"
    record_outcome = "record_outcome"
    withdraw_basis_corrected = "withdraw_basis_corrected"  # the system, after a correction


class BreachWithdrawalReason(StrEnum):
    reasonable_excuse = "reasonable_excuse"
    not_in_public_interest = "not_in_public_interest"
    error = "error"
    other = "other"
    basis_corrected = "basis_corrected"  # the system's: the facts behind it were corrected
    referral_withdrawn = "referral_withdrawn"  # the system's: the police withdrew the referral


class OfficerWithdrawalReason(StrEnum):
    """The reasons an officer may give; the others are the system's own."""

    reasonable_excuse = BreachWithdrawalReason.reasonable_excuse.value
    not_in_public_interest = BreachWithdrawalReason.not_in_public_interest.value
    error = BreachWithdrawalReason.error.value
    other = BreachWithdrawalReason.other.value


class CourtOutcome(StrEnum):
    summons_issued = "summons_issued"
    community_sanction_imposed = "community_sanction_imposed"
    adjourned = "adjourned"
    no_further_action = "no_further_action"
    withdrawn_by_prosecution = "withdrawn_by_prosecution"


class YjuOutcome(StrEnum):
    further_diversion = "further_diversion"
    youth_caution = "youth_caution"
    referred_to_youth_offending_panel = "referred_to_youth_offending_panel"
    no_further_action = "no_further_action"


OPEN_STATUSES = frozenset(
    {BreachStatus.pending_oic_review, BreachStatus.submitted, BreachStatus.acknowledged, BreachStatus.hearing_scheduled}
)

_COMMON: dict[BreachStep, frozenset[BreachStatus]] = {
    BreachStep.confirm: frozenset({BreachStatus.pending_oic_review}),
    BreachStep.withdraw: OPEN_STATUSES,
    BreachStep.withdraw_basis_corrected: frozenset({BreachStatus.pending_oic_review}),
    BreachStep.acknowledge: frozenset({BreachStatus.submitted}),
}
_FROM: dict[Addressee, dict[BreachStep, frozenset[BreachStatus]]] = {
    Addressee.court: {
        **_COMMON,
        BreachStep.schedule_hearing: frozenset({BreachStatus.acknowledged, BreachStatus.hearing_scheduled}),  # again: re-listed
        BreachStep.record_outcome: frozenset({BreachStatus.hearing_scheduled}),
    },
    Addressee.yju: {**_COMMON, BreachStep.record_outcome: frozenset({BreachStatus.acknowledged})},
}
_TO: dict[BreachStep, BreachStatus] = {
    BreachStep.confirm: BreachStatus.submitted,
    BreachStep.withdraw: BreachStatus.withdrawn,
    BreachStep.withdraw_basis_corrected: BreachStatus.withdrawn,
    BreachStep.acknowledge: BreachStatus.acknowledged,
    BreachStep.schedule_hearing: BreachStatus.hearing_scheduled,
    BreachStep.record_outcome: BreachStatus.outcome_recorded,
}


def next_status(addressee: Addressee, current: BreachStatus, step: BreachStep) -> BreachStatus | None:
    """The status after ``step``, or None if the step is not allowed from ``current``."""
    allowed_from = _FROM[addressee].get(step)
    if allowed_from is None or current not in allowed_from:
        return None
    return _TO[step]


def outcome_allowed(addressee: Addressee, outcome: str) -> bool:
    vocabulary = CourtOutcome if addressee is Addressee.court else YjuOutcome
    return outcome in {member.value for member in vocabulary}


def hearing_refusal(submitted_at: datetime, hearing_at: datetime) -> str | None:
    """Why a hearing may not be scheduled for ``hearing_at``, if it may not: a court hears a
    request it has received, so not before its submission (the clock allowance aside)."""
    if hearing_at < submitted_at - CLOCK_ALLOWANCE:
        return "must not be before the breach request was submitted to the court"
    return None
