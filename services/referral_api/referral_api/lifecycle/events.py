"""What a new fact did to a case, as domain events: the fold (fold.step) says what happened, and
one handler table (case_events/handlers.py) says who is told and what is kept in step. No I/O.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from diversion_common.contracts import CaseStatus, Deadline


@dataclass(frozen=True)
class StatusChanged:
    previous: CaseStatus | None
    status: CaseStatus
    reason: str | None  # the police's reason code, when a withdrawal changed it
    source: str  # who said the fact that changed it (lifecycle/facts.py's sources)


@dataclass(frozen=True)
class BreachRequestChanged:
    """A breach request was raised or took a step."""

    request_id: uuid.UUID


@dataclass(frozen=True)
class WarningIssued:
    appointment_id: str | None


@dataclass(frozen=True)
class ReminderSent:
    deadline: Deadline | None
    due_at: datetime | None
    breach_request_id: uuid.UUID | None


@dataclass(frozen=True)
class FactReportedAfterSubmission:
    """A provider reported a fact while a submitted breach request was open: its readers weigh it."""

    request_id: uuid.UUID
    source: str
    source_id: str


DomainEvent = StatusChanged | BreachRequestChanged | WarningIssued | ReminderSent | FactReportedAfterSubmission
