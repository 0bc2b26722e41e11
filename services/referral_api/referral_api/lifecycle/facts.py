"""The facts of a case's log: what happened, when, and who said so.

The log is append-only and is the truth; everything else about a case is a fold
over it (see ``fold``). A fact's ``data`` is JSON-able so it can be stored as is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from diversion_common.contracts import ProviderEventType


class _OwnKind(StrEnum):
    """The facts referral_api records itself (the providers' kinds come from the contract)."""

    referral_received = "referral.received"  # {"pathway": str, "needs_yju": bool}; source police:<client>
    yju_decided = "yju.decided"  # {"decision": "divert" | "decline"}; source yju:<client>
    routed = "case.routed"  # {"provider_id": str, "reason": str}; source gateway
    unroutable = "case.unroutable"  # {"reason": str}; source gateway
    withdrawn = "police.withdrew"  # {"reason": code, "note": str | None}; source police:<client>
    # Made by the breach rules (source referral_api), or steps taken on a breach request by the
    # officer (police:<client>), the court (court:<client>) or the YJU (yju:<client>).
    warning_issued = "breach.warning_issued"  # {"rule", "appointment_id", "evidence": [...]}
    reminder_sent = "deadline.reminder"  # {"deadline", "due_at", "breach_request_id"?}
    breach_raised = "breach.raised"  # {"breach_request_id", "rule", "addressee", "court", "evidence", "warnings", "deadlines", "review_due_at"}
    breach_submitted = "breach.submitted"  # {"breach_request_id"}
    breach_acknowledged = "breach.acknowledged"  # {"breach_request_id"}
    breach_hearing_scheduled = "breach.hearing_scheduled"  # {"breach_request_id", "hearing_at", "court_room"}
    breach_outcome_recorded = "breach.outcome_recorded"  # {"breach_request_id", "outcome", "note"}
    breach_withdrawn = "breach.withdrawn"  # {"breach_request_id", "reason", "note"}


# Every kind of fact: referral_api's own, and each of the contract's provider event types under
# the same name (FactKind.referral_accepted, FactKind.case_closed_by_provider...): its data is the
# event's data without case_id and occurred_at, its source provider:<provider>. A provider event
# type added to the contract is a fact kind at once; nothing here restates it.
FactKind = StrEnum(  # type: ignore[misc]
    "FactKind",
    [(kind.name, kind.value) for kind in _OwnKind] + [(event.name, event.value) for event in ProviderEventType],
    module=__name__,
)

PROVIDER_KINDS = frozenset(FactKind(event_type.value) for event_type in ProviderEventType)

APPOINTMENT_KINDS = frozenset(
    {
        FactKind.appointment_booked,
        FactKind.appointment_cancelled,
        FactKind.appointment_attended,
        FactKind.appointment_missed,
    }
)
# What happened to a booked appointment; a later one about the same appointment corrects it.
APPOINTMENT_OUTCOME_KINDS = APPOINTMENT_KINDS - {FactKind.appointment_booked}

BREACH_STEP_KINDS = frozenset(
    {
        FactKind.breach_raised,
        FactKind.breach_submitted,
        FactKind.breach_acknowledged,
        FactKind.breach_hearing_scheduled,
        FactKind.breach_outcome_recorded,
        FactKind.breach_withdrawn,
    }
)

GATEWAY_SOURCE = "gateway"
RULES_SOURCE = "referral_api"  # the breach rules: warnings, reminders, breach requests raised or withdrawn


def court_source(client_id: uuid.UUID) -> str:
    return f"court:{client_id}"


def police_source(client_id: uuid.UUID) -> str:
    return f"police:{client_id}"


def yju_source(client_id: uuid.UUID) -> str:
    return f"yju:{client_id}"


PROVIDER_SOURCE_PREFIX = "provider:"


def provider_source(provider_id: uuid.UUID) -> str:
    return f"{PROVIDER_SOURCE_PREFIX}{provider_id}"


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Fact:
    kind: FactKind
    occurred_at: datetime  # when it happened (the source's clock), UTC
    seq: int  # per-case arrival order, from 1
    source: str  # "police:<uuid>", "yju:<uuid>", "gateway", "provider:<uuid>"
    source_id: str  # the source's own id for it; (source, source_id) is unique per case
    data: Mapping[str, Any]
    recorded_at: datetime  # when we wrote it

    def __post_init__(self) -> None:
        # Accept a kind as stored (a plain string) and any offset, so facts read back compare equal.
        object.__setattr__(self, "kind", FactKind(self.kind))
        object.__setattr__(self, "occurred_at", _utc(self.occurred_at, "occurred_at"))
        object.__setattr__(self, "recorded_at", _utc(self.recorded_at, "recorded_at"))
        if self.seq < 1:
            raise ValueError("seq counts from 1")

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.source_id)

    @property
    def provider_id(self) -> uuid.UUID | None:
        prefix, _, rest = self.source.partition(":")
        if prefix != "provider":
            return None
        try:
            return uuid.UUID(rest)
        except ValueError:
            return None


def provider_fact_from_event(
    event: Any, provider_id: uuid.UUID, webhook_id: str, seq: int, recorded_at: datetime
) -> Fact:
    """The fact for a provider's event (any model of the contract's ``ProviderEvent`` union)."""
    return Fact(
        kind=FactKind(event.type),
        occurred_at=event.data.occurred_at,
        seq=seq,
        source=provider_source(provider_id),
        source_id=webhook_id,
        # case_id is the log's own key and occurred_at is a column: neither belongs in data.
        data=event.data.model_dump(mode="json", exclude={"case_id", "occurred_at"}),
        recorded_at=recorded_at,
    )


def fact_evidence(fact: Fact) -> dict[str, Any]:
    """A fact as evidence: what, when, who reported it and when. Only coded values: no free text."""
    coded = {k: v for k, v in fact.data.items() if k in _CODED_FIELDS}
    if fact.kind is FactKind.assessment_completed:
        coded.pop("outcome", None)  # the assessment's result is health information: the court never sees it
    return {
        "fact": fact.kind.value,
        "occurred_at": fact.occurred_at.isoformat(),
        "reported_at": fact.recorded_at.isoformat(),
        "reported_by": fact.source.partition(":")[0],
        "seq": fact.seq,
        **coded,
    }


_CODED_FIELDS = frozenset({"appointment_id", "kind", "starts_at", "mode", "reason_category", "punctuality", "method", "outcome", "cancelled_by"})


def ordered(facts: Iterable[Fact]) -> list[Fact]:
    """Distinct facts in the order they happened.

    A redelivered fact (same source and source id) counts once, as first recorded.
    Ties in occurred_at fall back to arrival order so the result never depends on
    the order the caller read the rows in.
    """
    first: dict[tuple[str, str], Fact] = {}
    for fact in facts:
        kept = first.get(fact.key)
        if kept is None or fact.seq < kept.seq:
            first[fact.key] = fact
    return sorted(first.values(), key=lambda fact: (fact.occurred_at, fact.seq))
