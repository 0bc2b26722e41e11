"""Providers' events as a provider's system would send them: signed with the public
`standardwebhooks` package, in the vocabulary of the OpenAPI document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.gateway_flows import signed_event

_clock = [datetime.now(UTC)]


def moment(minutes: int = 0) -> str:
    """Now, a little later than the last call (events happen in order); or ``minutes`` ahead (a booking's start)."""
    if minutes:
        return (_clock[0] + timedelta(minutes=minutes)).isoformat()
    _clock[0] = max(_clock[0] + timedelta(milliseconds=10), datetime.now(UTC))
    return _clock[0].isoformat()


# A booking's starts_at in a programme run over HTTP: the moment it is booked. Every event there
# happens now (the gateway refuses one dated ahead of its clock), and an appointment must have
# started by the time its attendance or miss is reported.
AT_BOOKING = "at-booking"


def event(event_type: str, case_id: str, occurred_at: str | None = None, **data: Any) -> dict[str, Any]:
    occurred_at = occurred_at or moment()
    if data.get("starts_at") == AT_BOOKING:
        data["starts_at"] = occurred_at
    return {"type": event_type, "data": {"case_id": case_id, "occurred_at": occurred_at, **data}}


class Provider:
    """One registered provider: its key, its secret, and a way to send it events."""

    def __init__(self, gateway, record: dict[str, Any], key: dict[str, str]) -> None:
        self.gateway = gateway
        self.id = record["id"]
        self.secret = record["signing_secret"]
        self.key = key

    def send(self, body: dict[str, Any], webhook_id: str | None = None):
        raw, headers = signed_event(self.secret, body, webhook_id)
        return self.gateway.post("/v1/provider/events", content=raw, headers={**headers, **self.key})

    def report(self, event_type: str, case_id: str, occurred_at: str | None = None, **data: Any) -> dict[str, Any]:
        response = self.send(event(event_type, case_id, occurred_at, **data))
        assert response.status_code == 200, response.text
        return response.json()


ADULT_PROGRAMME = [
    ("referral.accepted", {}),
    ("contact.attempted", {"method": "phone", "outcome": "no_answer"}),
    ("contact.attempted", {"method": "sms", "outcome": "reached"}),
    ("appointment.booked", {"appointment_id": "a-1", "kind": "assessment", "starts_at": AT_BOOKING, "mode": "in_person", "out_of_hours": True}),
    ("appointment.attended", {"appointment_id": "a-1", "punctuality": "late"}),
    ("assessment.completed", {"outcome": "suitable_for_programme"}),
    ("intervention.completed", {"intervention": "online_intervention_1"}),
    ("intervention.completed", {"intervention": "online_intervention_2"}),
    ("appointment.booked", {"appointment_id": "a-2", "kind": "follow_up", "starts_at": AT_BOOKING, "mode": "video"}),
    ("appointment.attended", {"appointment_id": "a-2"}),
    ("intervention.completed", {"intervention": "follow_up"}),
    ("course.completed", {}),
]

YOUTH_PROGRAMME = [
    ("referral.accepted", {}),
    ("appointment.booked", {"appointment_id": "y-0", "kind": "assessment", "starts_at": AT_BOOKING, "mode": "in_person"}),
    ("appointment.attended", {"appointment_id": "y-0"}),
    ("assessment.completed", {"outcome": "suitable_for_programme"}),
    *[
        step
        for number in range(1, 7)
        for step in (
            ("appointment.booked", {"appointment_id": f"y-{number}", "kind": "session", "starts_at": AT_BOOKING, "mode": "in_person"}),
            ("appointment.attended", {"appointment_id": f"y-{number}"}),
            ("intervention.completed", {"intervention": "session", "session_number": number}),
        )
    ],
    ("course.completed", {}),
]
