"""The answers to providers' events. The events themselves are the shared vocabulary in
``diversion_common.contracts`` (``ProviderEvent``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from diversion_common.contracts import CaseStatus
from provider_gateway.events.tables import EventOutcome


class EventRefusal(BaseModel):
    code: str = Field(
        examples=["appointment_not_booked"],
        description=(
            "case_ended, not_with_provider, already_answered, before_referral, appointment_not_booked, "
            "appointment_has_outcome, appointment_before_acceptance, appointment_starts_before_booking, "
            "appointment_not_started, outcome_before_booking, intervention_not_in_pathway (docs/BREACHES.md)"
        ),
    )
    detail: str
    retryable: bool = Field(
        default=False,
        description=(
            "True when the event may apply later (an appointment's outcome sent before its booking): send it "
            "again under the same webhook-id once the missing fact is recorded. False: the refusal is final, "
            "and a repeat of the webhook-id gets it again."
        ),
    )


class EventReceipt(BaseModel):
    webhook_id: str
    event_type: str
    case_id: uuid.UUID
    outcome: EventOutcome = Field(description="applied; pending while referral_api is unreachable; refused (see refusal).")
    duplicate: bool = Field(
        description=(
            "This webhook-id was received before: this is the first answer, as it stands now "
            "(a retryable refusal is not an answer: its repeat is tried again)."
        )
    )
    case_status: CaseStatus | None = Field(description="The case's status after the event, once applied.")
    case_version: int | None
    refusal: EventRefusal | None = None
    received_at: datetime
    links: dict[str, str] = Field(description="`self`: where to ask for the outcome later.")


class EventReceiptPage(BaseModel):
    items: list[EventReceipt]
    next_cursor: str | None
