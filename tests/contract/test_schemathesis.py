"""Property-based contract tests: each live app against its own OpenAPI document.

Schemathesis takes each service's document from the app, generates valid and
invalid requests for every operation (examples, coverage and fuzzing phases)
and runs every built-in check on each answer: no 5xx; only documented
statuses, content types and headers; bodies that match their schema; invalid
data rejected and valid data accepted; authentication enforced; unsupported
methods answered 405 with the right ``Allow``.

Each service runs in process (ASGI) on its own fresh SQLite database, with a
real credential per role: every operation is called with the key of the role
that may call it. A few cases and a provider are seeded under known ids, which
the generated path parameters use half of the time, so reads, withdrawals,
decisions and changes also succeed and their answers are checked, not only
their 404s. The per-operation exceptions below are business rules JSON Schema
cannot state; each says why.

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
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from diversion_common.clients import create_client
from diversion_common.credentials import Role, new_key
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.config import Settings as GatewaySettings
from provider_gateway.main import create_app as create_gateway
from provider_gateway.providers.tables import Provider
from referral_api.cases import lifecycle
from referral_api.cases.schemas import ReferralCreate
from referral_api.cases.tables import Case, CaseHistory
from referral_api.clients.tables import Client as ReferralClient
from referral_api.config import Settings as ReferralSettings
from referral_api.main import create_app as create_referral_api
from support.referrals import adult_referral, youth_referral

# `make test` runs a fixed sample: derandomised, at most MAX_EXAMPLES generated cases per
# operation (plus the few of the coverage and examples phases), in well under a minute.
# A deeper or a different sample, for a session of bug hunting:
#   CONTRACT_MAX_EXAMPLES=300 CONTRACT_SEED=7 .tools/bin/uv run pytest tests/contract
MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "50"))
RANDOM_SEED = os.environ.get("CONTRACT_SEED")
FORCE = "thames-valley"

# Who may call what: the longest matching path prefix names the role.
ROLES: dict[str, dict[str, tuple[Role, str | None]]] = {
    "referral_api": {
        "/v1/referrals": (Role.police, FORCE),
        "/v1/yju/": (Role.yju, None),
        "/internal/v1/": (Role.service, None),
    },
    "provider_gateway": {
        "/v1/admin/": (Role.admin, None),
        "/internal/v1/": (Role.service, None),
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
PROVIDER_ID = uuid.uuid4()

# Business rules beyond JSON Schema: schema-valid requests these operations refuse on purpose.
# positive_data_acceptance's defaults are 2xx, 3xx, 401, 403, 404, 409, 429 and 5xx; a list here
# replaces them for the operations it names ("METHOD /path"), so it names all the operation may answer.
REFERRAL_API_OPERATIONS: list[dict[str, Any]] = [
    {
        "include-name": "POST /v1/referrals",
        # Intake rules across fields (422): an adult needs a body_worn_video_reference and an
        # under-18 a guardian who was contacted; the encounter and the date of birth may not be
        # in the future and the person must be 10 to 120; the district must belong to the
        # caller's force; the checks and consent must be true; the preferred contact method
        # needs a phone or an email. A police_reference the force already used is a duplicate (409).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "409", "422"]}},
    },
    {
        "include-name": ["GET /v1/referrals", "GET /v1/yju/referrals"],
        # `cursor` is opaque (a string in the schema): only a cursor this service issued decodes (422).
        "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "422"]}},
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
# Path ids from these dictionaries, half of the time (a random, absent id otherwise), so reads,
# withdrawals, decisions and changes also find something. Each changing operation gets a case
# of its own: a withdrawn case could take no decision.
DICTIONARIES = {
    "referral_api": {
        "cases": [str(ADULT_CASE_ID), str(YJU_CASE_ID)],
        "adult_case": [str(ADULT_CASE_ID)],
        "yju_case": [str(YJU_CASE_ID)],
    },
    "provider_gateway": {"providers": [str(PROVIDER_ID)]},
}
PATH_PARAMETERS = {
    "referral_api": {"case_id": "cases"},
    "provider_gateway": {"provider_id": "providers"},
}
OPERATION_PATH_PARAMETERS = {
    "referral_api": {
        "POST /v1/referrals/{case_id}/withdraw": {"case_id": "adult_case"},
        "POST /v1/yju/referrals/{case_id}/decision": {"case_id": "yju_case"},
    },
    "provider_gateway": {},
}


def _bindings(parameters: dict[str, str]) -> dict[str, Any]:
    return {f"path.{name}": {"dictionary": dictionary, "probability": 0.5} for name, dictionary in parameters.items()}


def _config(service: str, operations: list[dict[str, Any]]) -> schemathesis.Config:
    operations = operations + [
        {"include-name": name, "parameters": _bindings(parameters)}
        for name, parameters in OPERATION_PATH_PARAMETERS[service].items()
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
            "parameters": _bindings(PATH_PARAMETERS[service]),
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
        for prefix, (role, force) in ROLES[service].items():
            credential = CREDENTIALS[service][prefix]
            create_client(
                session,
                client_table,
                name=f"contract {role.value}",
                role=role,
                force=force,
                client_id=credential.client_id,
                key_hash=credential.key_hash,
            )


def _seed_case(session: Session, case_id: uuid.UUID, body: dict[str, Any]) -> None:
    """A case as intake stores it, under an id chosen in advance (intake would pick its own)."""
    referral = ReferralCreate.model_validate(body)
    encounter_date = referral.encounter.occurred_at.date()
    pathway = lifecycle.pathway_for(referral.subject.date_of_birth, encounter_date)
    event = lifecycle.intake_event(pathway, referral.previous_diversions)
    status = lifecycle.next_status(None, event)
    police = CREDENTIALS["referral_api"]["/v1/referrals"].client_id
    session.add(
        Case(
            id=case_id,
            force=FORCE,
            police_reference=referral.police_reference,
            status=status.value,
            pathway=pathway.value,
            district=referral.encounter.district.value,
            encounter_at=referral.encounter.occurred_at,
            previous_diversions=referral.previous_diversions,
            age_at_encounter=lifecycle.age_on(referral.subject.date_of_birth, encounter_date),
            sex=referral.subject.sex.value,
            ethnicity=referral.subject.ethnicity.value,
            out_of_hours_wanted=referral.subject.contact_preferences.out_of_hours_appointments,
            referral=referral.model_dump(mode="json", by_alias=True),
            created_by=police,
        )
    )
    session.flush()
    session.add(CaseHistory(case_id=case_id, to_status=status.value, event=event.value, actor_client_id=police))


def _seed_referral_api(engine: Engine) -> None:
    with Session(engine) as session:
        _seed_case(session, ADULT_CASE_ID, adult_referral())
        _seed_case(session, YJU_CASE_ID, youth_referral(previous_diversions=1))
        session.commit()


def _seed_gateway(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(
            Provider(
                id=PROVIDER_ID,
                name="Synthetic Treatment Service",
                pathways=["youth_community_resolution", "adult_deferred_summons"],
                districts=["reading", "slough"],
                delivery_mode="pull",
                contact_email="referrals@treatment.example",
            )
        )
        session.commit()


def _fresh_sqlite(sqlite_templates: Any, tmp_path_factory: pytest.TempPathFactory, service: str) -> str:
    path = tmp_path_factory.mktemp("contract") / f"{service}.db"
    shutil.copyfile(sqlite_templates.urls[service], path)
    return f"sqlite:///{path}"


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
def referral_api_app(sqlite_templates: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = _fresh_sqlite(sqlite_templates, tmp_path_factory, "referral_api")
    engine = make_engine(url)
    try:
        _register_credentials(engine, "referral_api", ReferralClient)
        _seed_referral_api(engine)
    finally:
        engine.dispose()
    yield from _serve("referral_api", create_referral_api(ReferralSettings(database_url=url, gateway_api_key=None)))


@pytest.fixture(scope="module")
def provider_gateway_app(sqlite_templates: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    url = _fresh_sqlite(sqlite_templates, tmp_path_factory, "provider_gateway")
    engine = make_engine(url)
    try:
        _register_credentials(engine, "provider_gateway", GatewayClient)
        _seed_gateway(engine)
    finally:
        engine.dispose()
    yield from _serve("provider_gateway", create_gateway(GatewaySettings(database_url=url, referral_api_key=None, run_delivery_worker=False)))


# --- the tests -----------------------------------------------------------------


@referral_api.parametrize()
def test_referral_api_honours_its_contract(case: schemathesis.Case, referral_api_app: FastAPI) -> None:
    case.call_and_validate()


@provider_gateway.parametrize()
def test_provider_gateway_honours_its_contract(case: schemathesis.Case, provider_gateway_app: FastAPI) -> None:
    case.call_and_validate()

