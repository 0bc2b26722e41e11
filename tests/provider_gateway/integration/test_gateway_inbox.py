"""Messages from referral_api: routing requests and withdrawals, each applied once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.database import as_utc

from diversion_common.contracts import REFERENCE_AGGREGATE
from provider_gateway.cases.tables import GatewayCase
from provider_gateway.messaging.tables import InboxMessage, OutboxMessage
from provider_gateway.routing.tables import RoutingDecision

INBOX = "/internal/v1/messages"
PROVIDERS = "/v1/admin/providers"
ADULT = "adult_deferred_summons"
YOUTH = "youth_community_resolution"


def provider_view(case_id: str, *, pathway: str = ADULT, district: str = "reading", out_of_hours: bool = False) -> dict:
    """What referral_api's outgoing.provider_view sends: only what a provider needs."""
    return {
        "case_id": case_id,
        "pathway": pathway,
        "district": district,
        "force": "thames-valley",
        "encounter_date": (datetime.now(UTC) - timedelta(days=1)).date().isoformat(),
        "drugs": [{"name": "cannabis", "class": "B"}],
        "subject": {
            "given_name": "Sam",
            "family_name": "Synthetic",
            "date_of_birth": "1996-03-14",
            "sex": "female",
            "address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"},
            "phone": "07700 900001",
            "email": "sam.synthetic@person.example",
            "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": out_of_hours},
        },
        "guardian": None,
        "out_of_hours_appointments": out_of_hours,
    }


def envelope(topic: str, case_id: str, payload: dict) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "aggregate_id": case_id,
        "payload": payload,
        "created_at": datetime.now(UTC).isoformat(),
    }


def routing_requested(case_id: str | None = None, **view) -> dict:
    case_id = case_id or str(uuid.uuid4())
    return envelope("case.routing_requested", case_id, provider_view(case_id, **view))


def withdrawn(case_id: str, reason: str = "charged_instead") -> dict:
    """referral_api's mirror message for a withdrawal: the status, a newer version, the reason."""
    return envelope("case.status_changed", case_id, {"case_id": case_id, "status": "withdrawn", "version": 99, "reason": reason})


def provider_body(name: str, **overrides) -> dict:
    return {
        "name": name,
        "pathways": [ADULT],
        "districts": ["reading"],
        "out_of_hours": False,
        "delivery_mode": "pull",
        "contact_email": "referrals@recovery.example",
        **overrides,
    }


def new_provider(gateway, admin, name: str, **overrides) -> dict:
    response = gateway.post(PROVIDERS, json=provider_body(name, **overrides), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def send(gateway, headers, message) -> dict:
    response = gateway.post(INBOX, json=message, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def outbox(engine, case_id: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.created_at)
    if case_id is not None:
        query = query.where(OutboxMessage.aggregate_id == uuid.UUID(case_id))
    with Session(engine) as session:
        return list(session.scalars(query))


def decisions(engine, case_id: str) -> list[RoutingDecision]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(RoutingDecision).where(RoutingDecision.case_id == uuid.UUID(case_id)).order_by(RoutingDecision.id)
            )
        )


def gateway_case(engine, case_id: str) -> GatewayCase | None:
    with Session(engine) as session:
        return session.get(GatewayCase, uuid.UUID(case_id))


def count(engine, table) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(table))


# --- routing ----------------------------------------------------------------


def test_a_routing_request_with_a_matching_provider_routes_the_case(gateway, admin, referral_service, gateway_engine):
    provider = new_provider(gateway, admin, "Reading Recovery")
    new_provider(gateway, admin, "Oxford Recovery", districts=["oxford"])
    new_provider(gateway, admin, "Reading Youth Service", pathways=[YOUTH])
    message = routing_requested()
    case_id = message["aggregate_id"]

    receipt = send(gateway, referral_service, message)

    assert receipt == {"id": message["id"], "duplicate": False}
    case = gateway_case(gateway_engine, case_id)
    assert case.status == "routed"
    assert str(case.provider_id) == provider["id"]
    assert case.district == "reading" and case.pathway == ADULT and case.out_of_hours_wanted is False
    assert case.provider_payload["subject"]["family_name"] == "Synthetic"
    assert case.provider_payload["force"] == "thames-valley"  # extra fields are kept for the provider

    [decision] = decisions(gateway_engine, case_id)
    assert str(decision.provider_id) == provider["id"]
    assert decision.reason.startswith("Reading Recovery:")
    assert "of 1 eligible" in decision.reason

    [sent] = outbox(gateway_engine)
    assert sent.topic == "case.routed"
    assert str(sent.aggregate_id) == case_id
    assert sent.sent_at is None
    assert sent.payload == {
        "case_id": case_id, "provider_id": provider["id"], "reason": decision.reason, "occurred_at": sent.payload["occurred_at"],
    }
    assert datetime.fromisoformat(sent.payload["occurred_at"]) == as_utc(decision.at)
    with Session(gateway_engine) as session:
        inbox = session.get(InboxMessage, uuid.UUID(message["id"]))
        assert inbox is not None and inbox.topic == "case.routing_requested"


def test_the_same_message_again_is_a_duplicate_and_changes_nothing(gateway, admin, referral_service, gateway_engine):
    new_provider(gateway, admin, "Reading Recovery")
    message = routing_requested()

    first = send(gateway, referral_service, message)
    repeat = send(gateway, referral_service, message)

    assert first["duplicate"] is False
    assert repeat == {"id": message["id"], "duplicate": True}
    assert count(gateway_engine, InboxMessage) == 1
    assert count(gateway_engine, GatewayCase) == 1
    assert count(gateway_engine, RoutingDecision) == 1
    assert [m.topic for m in outbox(gateway_engine)] == ["case.routed"]


def test_the_same_case_under_a_new_message_id_is_not_routed_twice(gateway, admin, referral_service, gateway_engine):
    first_provider = new_provider(gateway, admin, "Alpha Recovery")
    message = routing_requested()
    send(gateway, referral_service, message)
    new_provider(gateway, admin, "Bravo Recovery")  # now less loaded than Alpha

    resent = {**message, "id": str(uuid.uuid4())}
    assert send(gateway, referral_service, resent)["duplicate"] is False

    assert str(gateway_case(gateway_engine, message["aggregate_id"]).provider_id) == first_provider["id"]
    assert len(decisions(gateway_engine, message["aggregate_id"])) == 1
    assert [m.topic for m in outbox(gateway_engine)] == ["case.routed"]


def test_without_a_provider_the_case_is_unroutable_until_one_is_added(gateway, admin, referral_service, gateway_engine):
    message = routing_requested()
    case_id = message["aggregate_id"]

    send(gateway, referral_service, message)

    case = gateway_case(gateway_engine, case_id)
    assert case.status == "unroutable" and case.provider_id is None
    [decision] = decisions(gateway_engine, case_id)
    assert decision.provider_id is None
    assert decision.reason == f"no active provider serves {ADULT} in reading"
    [unroutable] = outbox(gateway_engine)
    assert unroutable.topic == "case.unroutable"
    assert unroutable.payload == {"case_id": case_id, "reason": decision.reason, "occurred_at": unroutable.payload["occurred_at"]}

    # A provider elsewhere changes nothing: no decision, no message.
    new_provider(gateway, admin, "Oxford Recovery", districts=["oxford"])
    assert gateway_case(gateway_engine, case_id).status == "unroutable"
    assert len(decisions(gateway_engine, case_id)) == 1
    assert len(outbox(gateway_engine)) == 1

    provider = new_provider(gateway, admin, "Reading Recovery")

    case = gateway_case(gateway_engine, case_id)
    assert case.status == "routed"
    assert str(case.provider_id) == provider["id"]
    assert [str(d.provider_id) if d.provider_id else None for d in decisions(gateway_engine, case_id)] == [None, provider["id"]]
    messages = outbox(gateway_engine, case_id)
    assert [m.topic for m in messages] == ["case.unroutable", "case.routed"]
    assert messages[1].payload["provider_id"] == provider["id"]


def test_changing_a_provider_to_serve_the_district_routes_waiting_cases(gateway, admin, referral_service, gateway_engine):
    provider = new_provider(gateway, admin, "Oxford Recovery", districts=["oxford"])
    message = routing_requested()
    send(gateway, referral_service, message)
    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "unroutable"

    response = gateway.patch(f"{PROVIDERS}/{provider['id']}", json={"districts": ["oxford", "reading"]}, headers=admin)
    assert response.status_code == 200

    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "routed"
    assert [m.topic for m in outbox(gateway_engine)] == ["case.unroutable", "case.routed"]


def test_a_disabled_provider_gets_no_cases(gateway, admin, referral_service, gateway_engine):
    provider = new_provider(gateway, admin, "Reading Recovery")
    gateway.patch(f"{PROVIDERS}/{provider['id']}", json={"active": False}, headers=admin)
    message = routing_requested()

    send(gateway, referral_service, message)

    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "unroutable"
    assert [m.topic for m in outbox(gateway_engine)] == ["case.unroutable"]


def test_an_out_of_hours_wish_prefers_the_provider_offering_it(gateway, admin, referral_service, gateway_engine):
    daytime = new_provider(gateway, admin, "Alpha Daytime Service")
    evenings = new_provider(gateway, admin, "Zulu Evening Service", out_of_hours=True)

    wants_evenings = routing_requested(out_of_hours=True)
    send(gateway, referral_service, wants_evenings)
    # Without the wish, the now less loaded daytime provider is chosen.
    no_wish = routing_requested(out_of_hours=False)
    send(gateway, referral_service, no_wish)

    evening_case = gateway_case(gateway_engine, wants_evenings["aggregate_id"])
    assert evening_case.out_of_hours_wanted is True
    assert str(evening_case.provider_id) == evenings["id"]
    [decision] = decisions(gateway_engine, wants_evenings["aggregate_id"])
    assert "offers out-of-hours appointments" in decision.reason
    assert str(gateway_case(gateway_engine, no_wish["aggregate_id"]).provider_id) == daytime["id"]


def test_cases_go_to_the_least_loaded_provider(gateway, admin, referral_service, gateway_engine):
    alpha = new_provider(gateway, admin, "Alpha Recovery")
    bravo = new_provider(gateway, admin, "Bravo Recovery")
    first, second, third = routing_requested(), routing_requested(), routing_requested()

    for message in (first, second, third):
        send(gateway, referral_service, message)

    def provider_of(message: dict) -> str:
        return str(gateway_case(gateway_engine, message["aggregate_id"]).provider_id)

    assert provider_of(first) == alpha["id"]  # 0:0, the name breaks the tie
    assert provider_of(second) == bravo["id"]  # Alpha has one open
    assert provider_of(third) == alpha["id"]  # 1:1 again
    # Alpha now has two open cases, Bravo one. A withdrawn case no longer counts as
    # open, so after one withdrawal they are level and Alpha (by name) gets the next.
    send(gateway, referral_service, withdrawn(first["aggregate_id"]))
    fourth = routing_requested()
    send(gateway, referral_service, fourth)
    assert provider_of(fourth) == alpha["id"]


# --- withdrawal -------------------------------------------------------------


def test_a_withdrawal_marks_the_case_withdrawn(gateway, admin, referral_service, gateway_engine):
    new_provider(gateway, admin, "Reading Recovery")
    message = routing_requested()
    send(gateway, referral_service, message)

    notice = withdrawn(message["aggregate_id"])
    assert send(gateway, referral_service, notice) == {"id": notice["id"], "duplicate": False}

    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "withdrawn"
    assert count(gateway_engine, InboxMessage) == 2
    assert [m.topic for m in outbox(gateway_engine)] == ["case.routed"]  # nothing more to tell referral_api


def test_a_withdrawn_unroutable_case_is_not_routed_later(gateway, admin, referral_service, gateway_engine):
    message = routing_requested()
    send(gateway, referral_service, message)
    send(gateway, referral_service, withdrawn(message["aggregate_id"]))

    new_provider(gateway, admin, "Reading Recovery")

    case = gateway_case(gateway_engine, message["aggregate_id"])
    assert case.status == "withdrawn" and case.provider_id is None
    assert [m.topic for m in outbox(gateway_engine)] == ["case.unroutable"]


def test_a_withdrawal_of_an_unknown_case_is_absorbed(gateway, referral_service, gateway_engine):
    notice = withdrawn(str(uuid.uuid4()))
    assert send(gateway, referral_service, notice)["duplicate"] is False
    assert count(gateway_engine, GatewayCase) == 0
    assert count(gateway_engine, InboxMessage) == 1


# --- the districts, as referral_api tells of them -------------------------------------------


def district_changed(code: str, *, retired: bool = False) -> dict:
    payload = {"code": code, "force": "thames-valley", "name": code.title(), "retired": retired}
    return envelope("reference.district_changed", str(REFERENCE_AGGREGATE), payload)


def test_a_case_in_a_district_the_gateway_learns_of_later_waits_then_is_routed(gateway, admin, referral_service, gateway_engine):
    message = routing_requested(district="newbury")
    send(gateway, referral_service, message)  # taken: referral_api checked the district; no provider serves it yet
    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "unroutable"
    refused = gateway.post(PROVIDERS, json={**provider_body("Newbury Recovery"), "districts": ["newbury"]}, headers=admin)
    assert refused.status_code == 422 and [e["pointer"] for e in refused.json()["errors"]] == ["/districts/0"]

    send(gateway, referral_service, district_changed("newbury"))
    new_provider(gateway, admin, "Newbury Recovery", districts=["newbury"])
    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "routed"

    send(gateway, referral_service, district_changed("newbury", retired=True))
    refused = gateway.post(PROVIDERS, json={**provider_body("Newbury Evenings"), "districts": ["newbury"]}, headers=admin)
    assert refused.status_code == 422, refused.text


# --- refused messages -------------------------------------------------------


def _without(payload: dict, *keys: str) -> dict:
    return {k: v for k, v in payload.items() if k not in keys}


@pytest.mark.parametrize(
    ("make", "pointers"),
    [
        (lambda case_id: envelope("case.teleported", case_id, provider_view(case_id)), {"/topic"}),
        (lambda case_id: envelope("case.routing_requested", case_id, _without(provider_view(case_id), "district")), {"/payload/district"}),
        (
            lambda case_id: envelope("case.routing_requested", case_id, _without(provider_view(case_id), "subject", "out_of_hours_appointments")),
            {"/payload/subject", "/payload/out_of_hours_appointments"},
        ),
        # Not a code's shape. A well-formed code the gateway does not know is taken (referral_api checked it
        # against the reference data; its district_changed message may still be on its way): the case waits, unroutable.
        (lambda case_id: envelope("case.routing_requested", case_id, provider_view(case_id, district="Atlantis")), {"/payload/district"}),
        (lambda case_id: envelope("case.routing_requested", case_id, {**provider_view(case_id), "case_id": "not-a-uuid"}), {"/payload/case_id"}),
        (lambda case_id: envelope("case.status_changed", case_id, {"case_id": case_id, "status": "withdrawn"}), {"/payload/version"}),
    ],
    ids=["unknown-topic", "no-district", "no-subject-or-wish", "malformed-district", "bad-case-id", "withdrawal-without-reason"],
)
def test_an_unknown_topic_or_bad_payload_is_a_problem_and_writes_nothing(
    gateway, admin, referral_service, gateway_engine, make, pointers
):
    new_provider(gateway, admin, "Reading Recovery")
    message = make(str(uuid.uuid4()))

    response = gateway.post(INBOX, json=message, headers=referral_service)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["pointer"] for e in response.json()["errors"]} == pointers
    assert count(gateway_engine, InboxMessage) == 0
    assert count(gateway_engine, GatewayCase) == 0
    assert count(gateway_engine, RoutingDecision) == 0
    assert count(gateway_engine, OutboxMessage) == 0


def test_a_refused_message_can_be_sent_again_once_corrected(gateway, admin, referral_service, gateway_engine):
    new_provider(gateway, admin, "Reading Recovery")
    message = routing_requested()
    broken = {**message, "payload": _without(message["payload"], "district")}
    assert gateway.post(INBOX, json=broken, headers=referral_service).status_code == 422

    # The refused id was not recorded, so the corrected message under it is applied.
    assert send(gateway, referral_service, message)["duplicate"] is False
    assert gateway_case(gateway_engine, message["aggregate_id"]).status == "routed"


def test_a_malformed_envelope_is_a_problem(gateway, referral_service, gateway_engine):
    message = routing_requested()
    del message["aggregate_id"]
    response = gateway.post(INBOX, json=message, headers=referral_service)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert {e["pointer"] for e in response.json()["errors"]} == {"/aggregate_id"}
    assert count(gateway_engine, InboxMessage) == 0


# --- who may send -----------------------------------------------------------


def test_an_admin_may_not_post_messages(gateway, admin, gateway_engine):
    new_provider(gateway, admin, "Reading Recovery")
    response = gateway.post(INBOX, json=routing_requested(), headers=admin)
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert count(gateway_engine, InboxMessage) == 0
    assert count(gateway_engine, GatewayCase) == 0
    assert count(gateway_engine, OutboxMessage) == 0


def test_without_a_key_no_message_is_taken(gateway, gateway_engine):
    response = gateway.post(INBOX, json=routing_requested())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert count(gateway_engine, InboxMessage) == 0
