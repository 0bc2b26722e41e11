"""Steps many gateway tests take: register a provider, route a case to it, answer as a provider."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import Session
from standardwebhooks import Webhook

from provider_gateway.deliveries.tables import Delivery


def register_provider(
    gateway, admin: dict[str, str], *, name: str = "Webhook Drug Service", district: str = "reading",
    webhook_url: str | None = None, pathways: tuple[str, ...] = ("adult_deferred_summons",), out_of_hours: bool = False,
) -> dict[str, Any]:
    body = {
        "name": name,
        "pathways": list(pathways),
        "districts": [district],
        "out_of_hours": out_of_hours,
        "delivery_mode": "webhook" if webhook_url else "pull",
        "contact_email": "intake@provider.example",
    }
    if webhook_url:
        body["webhook_url"] = webhook_url
    response = gateway.post("/v1/admin/providers", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def route_a_case(gateway, referral_service: dict[str, str], *, district: str = "reading") -> str:
    case_id = str(uuid.uuid4())
    payload = {
        "case_id": case_id,
        "pathway": "adult_deferred_summons",
        "district": district,
        "force": "thames-valley",
        "encounter_date": "2026-11-20",
        "drugs": [{"name": "cannabis", "class": "B"}],
        "subject": {"given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "1996-01-01", "sex": "female",
                    "address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"}, "phone": "07700 900001",
                    "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": False}},
        "guardian": None,
        "out_of_hours_appointments": False,
    }
    message = {"id": str(uuid.uuid4()), "topic": "case.routing_requested", "aggregate_id": case_id,
               "payload": payload, "created_at": datetime.now(UTC).isoformat()}
    response = gateway.post("/internal/v1/messages", json=message, headers=referral_service)
    assert response.status_code == 200, response.text
    return case_id


def delivery_for(engine, case_id: str) -> Delivery:
    with Session(engine) as session:
        return session.scalars(
            select(Delivery).where(Delivery.case_id == uuid.UUID(case_id)).order_by(Delivery.created_at.desc())  # type: ignore[attr-defined]
        ).first()


def signed_event(secret: str, event: dict[str, Any], webhook_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """An event as a provider using the public `standardwebhooks` package would sign it."""
    body = json.dumps(event)
    webhook_id = webhook_id or f"evt_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    headers = {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, now, body),
        "Content-Type": "application/json",
    }
    return body.encode(), headers
