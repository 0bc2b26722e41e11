"""The case lifecycle: a pure fold over a case's log of facts. No I/O, no framework."""

from referral_api.lifecycle.facts import (
    GATEWAY_SOURCE,
    PROVIDER_KINDS,
    Fact,
    FactKind,
    ordered,
    police_source,
    provider_fact_from_event,
    provider_source,
    yju_source,
)
from referral_api.lifecycle.fold import (
    Appointment,
    AppointmentStatus,
    CaseState,
    ProgrammeState,
    Transition,
    fold,
)
from referral_api.lifecycle.programme import DEFAULT_RULES, ProgrammeRules, add_working_days
from referral_api.lifecycle.rules import Refusal, refusal
from referral_api.lifecycle.timeline import corrected, describe

__all__ = [
    "DEFAULT_RULES",
    "GATEWAY_SOURCE",
    "PROVIDER_KINDS",
    "Appointment",
    "AppointmentStatus",
    "CaseState",
    "Fact",
    "FactKind",
    "ProgrammeRules",
    "ProgrammeState",
    "Refusal",
    "Transition",
    "add_working_days",
    "corrected",
    "describe",
    "fold",
    "ordered",
    "police_source",
    "provider_fact_from_event",
    "provider_source",
    "refusal",
    "yju_source",
]
