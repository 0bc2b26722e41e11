"""Property-based contract tests: each live app against its own OpenAPI document.

Schemathesis takes each service's document from the app, generates valid and
invalid requests for every operation (examples, coverage and fuzzing phases)
and runs every built-in check on each answer: no 5xx; only documented
statuses, content types and headers; bodies that match their schema; invalid
data rejected and valid data accepted; authentication enforced; unsupported
methods answered 405 with the right ``Allow``.

Each service runs in process (ASGI) on its own fresh database: SQLite, and
PostgreSQL too when TEST_POSTGRES_URL is set (the same sample on each: what
SQLite keeps and PostgreSQL cannot store, a NUL or an over-long value, is a
500 there only). It has a real credential per role: every operation is called
with the key of the role that may call it (a provider's key speaks for the
seeded provider). A few cases, providers and deliveries are seeded under known
ids, which the generated path parameters (and an event's case) use half of the
time, so reads, withdrawals, decisions, acknowledgements, redeliveries and
changes also succeed and their answers are checked, not only their 404s. A
provider's event is signed (Standard Webhooks) with the seeded provider's
secret just before it is sent, unless the case leaves a signature header out
on purpose: see ``_send``. The per-operation exceptions below are business
rules JSON Schema cannot state; each says why.

Not here: stateful workflows (``schema.as_state_machine()``, which link a
created or listed id to the next call). Against one shared database their
generation cannot be replayed, and Hypothesis rejects it as flaky
(FlakyStrategyDefinition); run ``schemathesis run`` on a live server for those.

(The schema is built at import rather than in a fixture with
``schemathesis.pytest.from_fixture``: that loader sets ``Function._nodeid``,
which pytest 9 no longer has. See ``LiveApp``.)
"""

from __future__ import annotations

import copy
import json
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from schemathesis.core import NotSet
from sqlalchemy import Engine
from sqlmodel import Session

from diversion_common.clients import create_client
from diversion_common.credentials import Principal, Role, new_key
from diversion_common.database import make_engine, utcnow
from diversion_common.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_BASE
from diversion_common.signing import new_secret, sign_headers
from diversion_common.webhooks.secrets import issue_secret
from provider_gateway.cases.tables import GatewayCase, GatewayCaseStatus
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.config import Settings as GatewaySettings
from provider_gateway.deliveries.service import REFERRAL_CREATED, new_delivery_id, referral_created_payload
from provider_gateway.deliveries.tables import Delivery, DeliveryStatus
from provider_gateway.main import create_app as create_gateway
from provider_gateway.providers.tables import Provider, ProviderSecret
from provider_gateway.routing.tables import RoutingDecision
from referral_api.cases.service import build_case, record_intake
from referral_api.cases.schemas import ReferralCreate
from referral_api.clients.tables import Client as ReferralClient
from referral_api.config import Settings as ReferralSettings
from referral_api.main import create_app as create_referral_api
from referral_api.callbacks.service import CASE_STATUS_CHANGED
from referral_api.callbacks.tables import CallbackDelivery, CallbackEndpoint, CallbackSecret
from support.referrals import adult_referral, youth_referral

# `make test` runs a fixed sample: derandomised, at most MAX_EXAMPLES generated cases per
# operation, besides the examples phase and the coverage phase's boundary cases (most of the
# run: 702 for POST /v1/provider/events, 458 for POST /v1/referrals). `make test-contract-deep`
# runs 300 per operation.
# A deeper or a different sample, for a session of bug hunting:
#   CONTRACT_MAX_EXAMPLES=300 CONTRACT_SEED=7 .tools/bin/uv run pytest tests/contract
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "25"))
RANDOM_SEED = os.environ.get("CONTRACT_SEED")
FORCE = "thames-valley"
PROVIDER_ID = uuid.uuid4()  # the provider the provider role's key speaks for (pull mode)

# Who may call what: the longest matching path prefix names the role, with the force
# (police) or the provider (provider) its client belongs to.
ROLES: dict[str, dict[str, tuple[Role, str | None, uuid.UUID | None]]] = {
    "referral_api": {
        "/v1/referrals": (Role.police, FORCE, None),
        # The referring force's officer: it may read and review; the court's and YJU's steps are 403s to it.
        "/v1/breach-requests": (Role.police, FORCE, None),
        "/v1/yju/": (Role.yju, FORCE, None),
        "/v1/reference/": (Role.police, FORCE, None),
        "/v1/admin/": (Role.admin, None, None),
        "/internal/v1/": (Role.service, None, None),
    },
    "provider_gateway": {
        "/v1/admin/": (Role.admin, None, None),
        "/v1/provider/": (Role.provider, None, PROVIDER_ID),
        "/internal/v1/": (Role.service, None, None),
    },
}


@dataclass(frozen=True)
class Credential:
    client_id: uuid.UUID
    api_key: str
    key_hash: str


def _mint() -> Credential:
    client_id = uuid.uuid4()
    return Credential(client_id, *new_key(client_id))


# Keys and seeded ids exist before the databases do: schemathesis builds its coverage
# cases, auth and dictionaries included, when pytest collects the tests.
CREDENTIALS = {service: {prefix: _mint() for prefix in roles} for service, roles in ROLES.items()}
ADULT_CASE_ID = uuid.uuid4()  # awaiting routing
YJU_CASE_ID = uuid.uuid4()  # a young person with a previous diversion: awaiting the YJU's decision
# At the gateway: PROVIDER_ID's signing secret, and a provider of its own for secret rotations
# (a rotation with no overlap ends the secrets in force, and events must stay signable).
PROVIDER_SECRET = new_secret()
ROTATED_PROVIDER_ID = uuid.uuid4()
# Gateway cases routed to PROVIDER_ID, each waiting for its answer, in pull mode: one to read,
# one to acknowledge, one to answer with events (accepted or rejected, it waits no more).
READ_CASE_ID = uuid.uuid4()
ACK_CASE_ID = uuid.uuid4()
EVENT_CASE_ID = uuid.uuid4()
PULLED_DELIVERY_ID = new_delivery_id()  # READ_CASE_ID's, not acknowledged: pull mode lists it
ACK_DELIVERY_ID = new_delivery_id()  # ACK_CASE_ID's, for the acknowledgement
DEAD_DELIVERY_ID = new_delivery_id()  # EVENT_CASE_ID's, dead: it can be redelivered (once)
WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# At referral_api: a notification to Thames Valley's callback whose every try failed (redeliverable).
DEAD_POLICE_DELIVERY_ID = new_delivery_id()

# Business rules beyond JSON Schema: schema-valid requests these operations refuse on purpose.
# positive_data_acceptance's defaults are 2xx, 3xx, 401, 403, 404, 409, 429 and 5xx; a list here
# replaces them for the operations it names ("METHOD /path"), so it names all the operation may answer.
REFERRAL_API_OPERATIONS: list[dict[str, Any]] = [
    {
        "include-name": "POST /v1/referrals",
        # Intake rules across fields (422): an adult needs a body_worn_video_reference and an
        # under-18 a guardian who was contacted; the encounter and the date of birth may not be
        # in the future and the person must be 10 to 120; the district must belong to the
        # caller's force; the preferred contact method
        # needs a phone or an email. A police_reference the force already used is a duplicate (409).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "409", "422"]}},
    },
    {
        "include-name": ["PUT /v1/admin/police-callbacks/{force}", "PUT /v1/admin/court-callbacks/{court}", "PUT /v1/admin/yju-callbacks/{force}"],
        # The callback URL must be https to a public host, which the `uri` format does not say
        # (422); these apps run as in production, where loopback is refused too. A force or court
        # code of the right shape that the reference data does not hold is not found (404).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422"]}},
    },
    {
        "include-name": ["POST /v1/admin/reference/districts", "PATCH /v1/admin/reference/districts/{code}"],
        # A district's force and court must be ones in use (reference data, 422); its code may be taken (409).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}},
    },
    {
        "include-name": ["GET /v1/referrals", "GET /v1/yju/referrals", "GET /v1/breach-requests", "GET /v1/admin/deliveries", "GET /v1/admin/messages", "GET /v1/admin/audit"],
        # `cursor` is opaque (a string in the schema): only a cursor this service issued decodes (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "422"]}},
    },
    {
        "include-name": "GET /v1/referrals/{case_id}/timeline",
        # A generated id names no case (404); `cursor` is opaque: only one this service issued decodes (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422"]}},
    },
    {
        "include-name": "POST /v1/admin/subject-access",
        # A case id names no case (404); a name of spaces only is empty once trimmed (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "422"]}},
    },
    {
        "include-name": "POST /internal/v1/messages",
        # The envelope is the same for every topic; which topics the service takes, and the
        # payload's shape for each, are checked once it is parsed (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "422"]}},
    },
]
GATEWAY_OPERATIONS: list[dict[str, Any]] = [
    {
        "include-name": "POST /v1/provider/events",
        # The event must name a case routed to the caller (404 otherwise: another provider's case
        # does not exist for it) that still waits for its answer (409 once accepted or rejected).
        # 401 stays for the cases sent without a valid API key: every event that carries the three
        # webhook-* headers is signed (see _send, which fails on a refused signature).
        # A session's completion needs its session_number, and only a session has one: a rule across
        # fields (422). An occurred_at ahead of our clock is refused too (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}},
    },
    {
        "include-name": ["GET /v1/admin/cases", "GET /v1/admin/deliveries", "GET /v1/admin/provider-events", "GET /v1/admin/messages", "GET /v1/admin/audit"],
        # As in referral_api: `cursor` is opaque; only a cursor this service issued decodes (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "422"]}},
    },
    {
        "include-name": ["POST /v1/admin/providers", "PATCH /v1/admin/providers/{provider_id}"],
        # A provider in webhook mode needs a webhook_url: a rule across fields, and for a change
        # across the stored provider too (422). contact_email must be an address mail can reach,
        # which the `email` format does not say: special-use domains such as .test are refused
        # (422). Names are unique (409); a generated id names no provider (404).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422"]}},
    },
    {
        "include-name": "POST /internal/v1/messages",
        # As in referral_api: unknown topics and payloads that do not fit the topic (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "422"]}},
    },
]
# Path ids (and an event's case) from these dictionaries, half of the time (a random, absent id
# otherwise), so reads, withdrawals, decisions, acknowledgements, redeliveries, events and changes
# also find something. Each changing operation gets a case (or a provider, a delivery) of its own:
# a withdrawn case could take no decision, an answered one no event.
DICTIONARIES = {
    "referral_api": {
        "cases": [str(ADULT_CASE_ID), str(YJU_CASE_ID)],
        "adult_case": [str(ADULT_CASE_ID)],
        "yju_case": [str(YJU_CASE_ID)],
        "police_deliveries": [DEAD_POLICE_DELIVERY_ID],
    },
    "provider_gateway": {
        "providers": [str(PROVIDER_ID)],
        "rotated_provider": [str(ROTATED_PROVIDER_ID)],
        "cases": [str(READ_CASE_ID), str(ACK_CASE_ID), str(EVENT_CASE_ID)],
        "ack_case": [str(ACK_CASE_ID)],
        "event_case": [str(EVENT_CASE_ID)],
        "deliveries": [PULLED_DELIVERY_ID, ACK_DELIVERY_ID, DEAD_DELIVERY_ID],
        "dead_delivery": [DEAD_DELIVERY_ID],
    },
}
# Parameters bound to a dictionary, by location ("path.case_id", "body.data.case_id").
PARAMETERS = {
    "referral_api": {"path.case_id": "cases", "path.delivery_id": "police_deliveries"},
    "provider_gateway": {"path.provider_id": "providers", "path.case_id": "cases", "path.delivery_id": "deliveries"},
}
OPERATION_PARAMETERS = {
    "referral_api": {
        "POST /v1/referrals/{case_id}/withdraw": {"path.case_id": "adult_case"},
        "POST /v1/yju/referrals/{case_id}/decision": {"path.case_id": "yju_case"},
    },
    "provider_gateway": {
        "POST /v1/admin/providers/{provider_id}/secrets": {"path.provider_id": "rotated_provider"},
        "POST /v1/admin/deliveries/{delivery_id}/redeliver": {"path.delivery_id": "dead_delivery"},
        "POST /v1/provider/referrals/{case_id}/acknowledge": {"path.case_id": "ack_case"},
        "POST /v1/provider/events": {"body.data.case_id": "event_case"},
    },
}


def _bindings(parameters: dict[str, str]) -> dict[str, Any]:
    return {location: {"dictionary": dictionary, "probability": 0.5} for location, dictionary in parameters.items()}


def _config(service: str, operations: list[dict[str, Any]]) -> schemathesis.Config:
    operations = operations + [
        {"include-name": name, "parameters": _bindings(parameters)}
        for name, parameters in OPERATION_PARAMETERS[service].items()
    ]
    return schemathesis.Config.from_dict(
        {
            # Reproducible by default: a fixed seed and derandomised generation, no example database.
            "seed": int(RANDOM_SEED) if RANDOM_SEED else 20260101,
            "generation": {
                "mode": "all",  # valid and invalid requests both
                "max-examples": MAX_EXAMPLES,
                "deterministic": RANDOM_SEED is None,
                "database": "none",
            },
            # The handlers write to a real database; that is not a reason to fail.
            "suppress-health-check": ["too_slow"],
            "checks": {"enabled": True},
            "dictionaries": {name: {"values": values} for name, values in DICTIONARIES[service].items()},
            "parameters": _bindings(PARAMETERS[service]),
            "operations": operations,
        }
    )


class LiveApp:
    """The ASGI app schemathesis calls: it forwards each request to the app a fixture runs.

    The schema, with its coverage cases, must exist when pytest collects the tests,
    before any database does; so schemathesis holds this stand-in and the fixture plugs
    the real app in. The fixture also runs the real app's lifespan; this one's is empty.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self.target: FastAPI | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.target is None:
            raise RuntimeError(f"no {self.service} app is running: use the {self.service}_app fixture")
        await self.target(scope, receive, send)


def _key_for(service: str, operation: Any) -> str | None:
    if not operation.definition.raw.get("security"):
        return None
    prefixes = [prefix for prefix in CREDENTIALS[service] if operation.path.startswith(prefix)]
    assert prefixes, f"no role is set up for {service} {operation.path}: add it to ROLES"
    return CREDENTIALS[service][max(prefixes, key=len)].api_key


def _load(service: str, operations: list[dict[str, Any]]) -> Any:
    schema = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENTS[service]), config=_config(service, operations))
    schema.app = LIVE_APPS[service]

    # Asked for each generated case; not cached, as the key differs by operation. A case
    # meant to go without credentials (a negative one) is left without.
    @schema.auth(refresh_interval=None)
    class RoleKey:
        def get(self, case: schemathesis.Case, ctx: schemathesis.AuthContext) -> str | None:
            return _key_for(service, case.operation)

        def set(self, case: schemathesis.Case, data: str, ctx: schemathesis.AuthContext) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    return schema


LIVE_APPS = {service: LiveApp(service) for service in ROLES}
# What each app serves at /openapi.json, built from the code (no database is opened).
DOCUMENTS = {"referral_api": create_referral_api().openapi(), "provider_gateway": create_gateway().openapi()}
referral_api = _load("referral_api", REFERRAL_API_OPERATIONS)
provider_gateway = _load("provider_gateway", GATEWAY_OPERATIONS)


# --- the live apps -----------------------------------------------------------


def _register_credentials(engine: Engine, service: str, client_table: type) -> None:
    with Session(engine) as session:
        for prefix, (role, force, provider_id) in ROLES[service].items():
            credential = CREDENTIALS[service][prefix]
            create_client(
                session,
                client_table,
                name=f"contract {role.value}",
                role=role,
                force=force,
                provider_id=provider_id,
                client_id=credential.client_id,
                key_hash=credential.key_hash,
            )


def _seed_case(session: Session, case_id: uuid.UUID, body: dict[str, Any]) -> None:
    """A case as intake stores it, under an id chosen in advance (intake would pick its own)."""
    police = CREDENTIALS["referral_api"]["/v1/referrals"].client_id
    principal = Principal(client_id=police, name="contract police", role=Role.police, force=FORCE)
    case = build_case(ReferralCreate.model_validate(body), principal, utcnow())
    case.id = case_id
    session.add(case)
    session.flush()
    record_intake(session, case, police, utcnow())


def _seed_police_callback(session: Session) -> None:
    """Thames Valley's callback, with a notification to it that is dead (every try failed)."""
    session.add(CallbackEndpoint(recipient=FORCE, url="https://police.example/diversion-link"))
    issue_secret(session, CallbackSecret, FORCE)
    session.add(
        CallbackDelivery(
            id=DEAD_POLICE_DELIVERY_ID, case_id=ADULT_CASE_ID, recipient=FORCE, event_type=CASE_STATUS_CHANGED,
            payload={"type": CASE_STATUS_CHANGED, "timestamp": utcnow().isoformat(), "data": {"case_id": str(ADULT_CASE_ID)}},
            status="dead", attempts=24, last_error="HTTP 503",
        )
    )


def _seed_referral_api(engine: Engine) -> None:
    with Session(engine) as session:
        _seed_police_callback(session)
        _seed_case(session, ADULT_CASE_ID, adult_referral())
        _seed_case(session, YJU_CASE_ID, youth_referral(previous_diversions=1))
        session.commit()


def _seed_gateway_case(session: Session, case_id: uuid.UUID, delivery_id: str, delivery_status: DeliveryStatus) -> None:
    """A case as routing leaves it: routed to PROVIDER_ID, its decision recorded, its delivery made."""
    payload = {
        "case_id": str(case_id),
        "pathway": "adult_deferred_summons",
        "district": "reading",
        "force": FORCE,
        "encounter_date": "2026-01-05",
        "drugs": [{"name": "cannabis", "class": "B"}],
        "subject": {"given_name": "Sam", "family_name": "Synthetic", "date_of_birth": "1990-01-01", "sex": "female",
                    "address": {"line1": "1 Example Road", "town": "Reading", "postcode": "RG1 2AB"}, "phone": "07700 900001",
                    "contact_preferences": {"preferred_method": "sms", "out_of_hours_appointments": False}},
        "out_of_hours_appointments": False,
    }
    session.add(
        GatewayCase(
            case_id=case_id,
            pathway="adult_deferred_summons",
            district="reading",
            out_of_hours_wanted=False,
            status=GatewayCaseStatus.routed.value,
            provider_id=PROVIDER_ID,
            provider_payload=payload,
        )
    )
    session.add(RoutingDecision(case_id=case_id, provider_id=PROVIDER_ID, reason="the only provider for the pathway and district"))
    now = utcnow()
    session.add(
        Delivery(
            id=delivery_id,
            case_id=case_id,
            provider_id=PROVIDER_ID,
            event_type=REFERRAL_CREATED,
            payload=referral_created_payload(payload, f"http://gateway.example/v1/provider/referrals/{case_id}", now),
            status=delivery_status.value,
            attempts=24 if delivery_status is DeliveryStatus.dead else 0,
            last_error="HTTP 503" if delivery_status is DeliveryStatus.dead else None,
            created_at=now,
            updated_at=now,
        )
    )


def _seed_gateway(engine: Engine) -> None:
    with Session(engine) as session:
        for provider_id, name in ((PROVIDER_ID, "Synthetic Treatment Service"), (ROTATED_PROVIDER_ID, "Synthetic Rotation Service")):
            session.add(
                Provider(
                    id=provider_id,
                    name=name,
                    pathways=["youth_community_resolution", "adult_deferred_summons"],
                    districts=["reading", "slough"],
                    delivery_mode="pull",
                    contact_email="referrals@treatment.example",
                )
            )
        session.add(ProviderSecret(provider_id=PROVIDER_ID, secret=PROVIDER_SECRET))
        session.add(ProviderSecret(provider_id=ROTATED_PROVIDER_ID, secret=new_secret()))
        _seed_gateway_case(session, READ_CASE_ID, PULLED_DELIVERY_ID, DeliveryStatus.awaiting_pull)
        _seed_gateway_case(session, ACK_CASE_ID, ACK_DELIVERY_ID, DeliveryStatus.awaiting_pull)
        # Offered by webhook before the provider moved to pull mode; every try failed.
        _seed_gateway_case(session, EVENT_CASE_ID, DEAD_DELIVERY_ID, DeliveryStatus.dead)
        session.commit()


def _serve(service: str, app: FastAPI) -> Iterator[FastAPI]:
    with TestClient(app) as client:  # runs the app's lifespan: its engine, and no relay (no peer key)
        # What schemathesis tests is what the running app serves.
        assert client.get("/openapi.json").json() == DOCUMENTS[service]
        LIVE_APPS[service].target = app
        try:
            yield app
        finally:
            LIVE_APPS[service].target = None


@pytest.fixture(scope="module")
def referral_api_app(module_fresh_database: Callable[[str], str]) -> Iterator[FastAPI]:
    url = module_fresh_database("referral_api")
    engine = make_engine(url)
    try:
        _register_credentials(engine, "referral_api", ReferralClient)
        _seed_referral_api(engine)
    finally:
        engine.dispose()
    yield from _serve("referral_api", create_referral_api(ReferralSettings(database_url=url, gateway_api_key=None, run_delivery_worker=False)))


@pytest.fixture(scope="module")
def provider_gateway_app(module_fresh_database: Callable[[str], str]) -> Iterator[FastAPI]:
    url = module_fresh_database("provider_gateway")
    engine = make_engine(url)
    try:
        _register_credentials(engine, "provider_gateway", GatewayClient)
        _seed_gateway(engine)
    finally:
        engine.dispose()
    yield from _serve("provider_gateway", create_gateway(GatewaySettings(database_url=url, referral_api_key=None, run_delivery_worker=False)))


# --- the tests -----------------------------------------------------------------


def _send(case: schemathesis.Case) -> None:
    """Call and check the case; a provider's event is signed first, as its provider would sign it.

    The signature covers the exact bytes sent, so the body is serialised here and sent as is.
    A case that leaves one of the webhook-* headers out, or sends something other than JSON,
    goes unsigned: it is meant to be refused (401, 415). Otherwise the generated webhook-id is
    signed with PROVIDER_ID's secret and the time now, in place of the generated timestamp and
    signature (which no generator could get right), so a schema-valid event must not meet a
    refused signature. A webhook-id generated twice makes a repeat, answered as a duplicate.
    """
    headers = {name.lower(): name for name in case.headers or {}}
    if (
        case.operation.label != "POST /v1/provider/events"
        or not all(name in headers for name in WEBHOOK_HEADERS)
        or case.media_type != "application/json"
        or isinstance(case.body, NotSet)
    ):
        case.call_and_validate()
        return
    serialised = case.as_transport_kwargs()  # the transport's own spelling of the body
    body = json.dumps(serialised["json"]).encode() if "json" in serialised else serialised["data"]
    if not _utf8(body):
        # The standard signs text: such a body has no valid signature, and is refused as unsigned.
        case.call_and_validate(data=body)
        return
    webhook_id = case.headers[headers["webhook-id"]]
    case.headers = {
        **{name: value for name, value in case.headers.items() if name.lower() not in WEBHOOK_HEADERS},
        **sign_headers([PROVIDER_SECRET], webhook_id, body),
    }
    response = case.call_and_validate(data=body)
    if case.meta is not None and case.meta.generation.mode is schemathesis.GenerationMode.POSITIVE:
        problem = response.json() if response.headers.get("content-type") == [PROBLEM_MEDIA_TYPE] else {}
        assert problem.get("type") != PROBLEM_TYPE_BASE + "invalid-signature", f"a signed, schema-valid event was refused: {problem}"


@referral_api.parametrize()
def test_referral_api_honours_its_contract(case: schemathesis.Case, referral_api_app: FastAPI) -> None:
    _send(case)


@provider_gateway.parametrize()
def test_provider_gateway_honours_its_contract(case: schemathesis.Case, provider_gateway_app: FastAPI) -> None:
    _send(case)


def _utf8(body: bytes) -> bool:
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True
