"""A case's status from what has accumulated, never from the last event alone.

Each status stands for a set of facts being present; the highest one present
wins. Arrival order and the skew between police, gateway and provider clocks
therefore cannot move a case backwards: a late referral.accepted does not undo
a booking, and a completion stays a completion whatever arrives after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from diversion_common.contracts import CaseStatus


@dataclass(frozen=True, slots=True)
class Signals:
    withdrawn: bool = False  # any police.withdrew
    yju_declined: bool = False  # any yju.decided "decline"
    awaiting_yju: bool = False  # the referral needs the YJU and it has not decided
    breach_decided: bool = False  # the court or YJU recorded an outcome on a breach request
    breach_open: bool = False  # a breach request is raised and neither withdrawn nor decided
    # The next five are about the current provider only: a provider the case has left
    # (say, one that rejected it) no longer speaks for it.
    completed: bool = False
    closed: bool = False
    refused: bool = False
    in_programme: bool = False  # the person reached, or an appointment or later programme step made
    accepted: bool = False  # referral.accepted, or programme activity (which implies it)
    has_provider: bool = False  # the latest routing fact routed it
    unroutable: bool = False  # the latest routing fact found nobody


PRECEDENCE: tuple[tuple[str, CaseStatus], ...] = (
    ("withdrawn", CaseStatus.withdrawn),
    ("yju_declined", CaseStatus.declined_by_yju),
    ("awaiting_yju", CaseStatus.awaiting_yju_decision),
    # A breach stands above the programme: a late completion is for the court to weigh.
    ("breach_decided", CaseStatus.breach_decided),
    ("breach_open", CaseStatus.breach_requested),
    ("completed", CaseStatus.completed),
    ("closed", CaseStatus.closed_by_provider),
    ("refused", CaseStatus.engagement_refused),
    ("in_programme", CaseStatus.in_programme),
    ("accepted", CaseStatus.accepted_by_provider),
    ("has_provider", CaseStatus.routed),
    ("unroutable", CaseStatus.unroutable),
)


def derive_status(signals: Signals) -> CaseStatus:
    for name, status in PRECEDENCE:
        if getattr(signals, name):
            return status
    return CaseStatus.awaiting_routing
