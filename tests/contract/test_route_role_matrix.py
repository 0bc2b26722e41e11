"""Every route of both services, called by every kind of caller: each gets the answer the policy says.

The policy is tests/support/access_matrix.py, one row per route: the callers it lets
through. Here:

- the rows must be exactly the routes the two apps serve (APIRoutes, with their routers'
  prefixes; /internal/ included: on an app with no internal port, as here, the same app
  serves it, and with one the internal listener serves these very routes of this app);
- each route is called by each caller (no key, a key no client holds, and a valid key of
  each role), with random but well-formed path parameters and a ``{}`` body where it takes
  one: a caller the row allows must get past authorisation (anything but 401 and 403, and
  no 5xx); one it does not must get 401 (no valid key) or 403 (a valid key, of another role).

Each service runs in process on a fresh database, one per service and database (SQLite,
and PostgreSQL when TEST_POSTGRES_URL is set), with rate limits out of the way.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError

from diversion_common.credentials import KEY_PREFIX, Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from provider_gateway.config import Settings as GatewaySettings
from provider_gateway.main import create_app as create_gateway
from referral_api.clients.tables import Client as ReferralClient
from referral_api.config import Settings as ReferralSettings
from referral_api.main import create_app as create_referral_api
from support.access_matrix import EVERYONE as EVERYONE_CALLERS
from support.access_matrix import (
    BODY_METHODS,
    CALLERS,
    COURT,
    FORCE,
    KEYED,
    KNOWN_DEVIATIONS,
    MATRIX,
    MINIMAL_BODY,
    PATH_VALUES,
    PROVIDER_GATEWAY,
    REFERRAL_API,
    SERVICES,
    Caller,
    Row,
    expected,
)
from support.credentials import bearer, issue_key

# Who may call what is decided before any query: one database is enough (schemathesis runs on both).
pytestmark = pytest.mark.database_independent

UNLIMITED = "1000000/minute"
RATE_LIMITS = {"rate_limit_per_client": UNLIMITED, "rate_limit_per_address": UNLIMITED, "rate_limit_failed_auth": UNLIMITED}
ROLE_OF = {Caller.police: Role.police, Caller.yju: Role.yju, Caller.court: Role.court, Caller.provider: Role.provider,
           Caller.admin: Role.admin, Caller.service: Role.service}
# What binds each role's client (diversion_common.clients.create_client insists on it).
BINDING: dict[Caller, dict[str, Any]] = {
    Caller.police: {"force": FORCE},
    Caller.yju: {"force": FORCE},
    Caller.court: {"court": COURT},
    Caller.provider: {"provider_id": uuid.uuid4()},
}
CLIENT_TABLES = {REFERRAL_API: ReferralClient, PROVIDER_GATEWAY: GatewayClient}


def _settings(service: str, database_url: str) -> ReferralSettings | GatewaySettings:
    # No relay (no peer key), no background workers: nothing but the routes runs.
    if service == REFERRAL_API:
        return ReferralSettings(database_url=database_url, gateway_api_key=None, run_delivery_worker=False,
                                run_breach_scheduler=False, internal_port=None, **RATE_LIMITS)
    return GatewaySettings(database_url=database_url, referral_api_key=None, run_delivery_worker=False,
                           internal_port=None, **RATE_LIMITS)


CREATE_APP: dict[str, Callable[..., FastAPI]] = {REFERRAL_API: create_referral_api, PROVIDER_GATEWAY: create_gateway}


def served_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """(method, path template) -> route, for every operation the app serves, prefixes applied."""
    routes: dict[tuple[str, str], APIRoute] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # /openapi.json, /docs, /redoc: Starlette routes, public by design
        for method in context.methods or ():
            routes[(method, context.path)] = route
    return routes


def _path_parameters(route: APIRoute) -> dict[str, Any]:
    return {parameter.name: parameter.field_info for parameter in route.dependant.path_params}


def _url(row: Row, route: APIRoute) -> str:
    values = {name: PATH_VALUES[name]() for name in _path_parameters(route)}
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda match: values[match.group(1)], row.path)


# --- the matrix against the apps (no database) -----------------------------------------


def test_the_matrix_has_a_row_for_exactly_the_routes_the_services_serve() -> None:
    rows = [row.route for row in MATRIX]
    duplicates = sorted({route for route in rows if rows.count(route) > 1})
    assert not duplicates, f"routes with more than one row in tests/support/access_matrix.py: {duplicates}"
    served = {(service, method, path) for service in SERVICES for method, path in served_routes(CREATE_APP[service]()).keys()}
    missing = sorted(served - set(rows))
    stale = sorted(set(rows) - served)
    problems = [
        *(f"no row in tests/support/access_matrix.py (say who may call it): {' '.join(route)}" for route in missing),
        *(f"a row for a route no service serves: {' '.join(route)}" for route in stale),
    ]
    assert not problems, "\n".join(problems)
    for key in KNOWN_DEVIATIONS:
        assert key[:3] in served, f"a known deviation for a route no service serves: {key}"


def test_the_path_values_are_valid_for_every_route() -> None:
    """So that a caller let through is not answered 422 for its path alone: the row's test means something."""
    for service in SERVICES:
        for (method, path), route in served_routes(CREATE_APP[service]()).items():
            for name, info in _path_parameters(route).items():
                assert name in PATH_VALUES, f"{service} {method} {path}: no value for path parameter {name!r} in PATH_VALUES"
                annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
                adapter: TypeAdapter[Any] = TypeAdapter(annotation)
                value = PATH_VALUES[name]()
                try:
                    adapter.validate_python(value)
                except ValidationError as error:
                    pytest.fail(f"{service} {method} {path}: {name}={value!r} is not valid for the route: {error}")


# --- every route, every caller ----------------------------------------------------------


@dataclass
class Served:
    client: TestClient
    routes: dict[tuple[str, str], APIRoute]
    headers: dict[Caller, dict[str, str]]


def _headers(service: str, database_url: str) -> dict[Caller, dict[str, str]]:
    engine = make_engine(database_url)
    try:
        headers = {
            caller: bearer(issue_key(engine, CLIENT_TABLES[service], ROLE_OF[caller], **BINDING.get(caller, {})))
            for caller in KEYED
        }
    finally:
        engine.dispose()
    headers[Caller.anonymous] = {}
    # Well-formed (dl_<client id>_<secret>), so it is looked up and not found: not a parse failure.
    headers[Caller.wrong_key] = bearer(f"{KEY_PREFIX}_{uuid.uuid4().hex}_{secrets.token_urlsafe(32)}")
    return headers


@pytest.fixture(scope="module")
def services(module_fresh_database: Callable[[str], str]) -> Iterator[dict[str, Served]]:
    """Both apps, each on its own fresh database, with a key of each role in it."""
    with ExitStack() as stack:
        served = {}
        for service in SERVICES:
            url = module_fresh_database(service)
            headers = _headers(service, url)
            app = CREATE_APP[service](_settings(service, url))
            client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            served[service] = Served(client, served_routes(app), headers)
        yield served


def _against_policy(row: Row, caller: Caller, status: int) -> str | None:
    """None if ``status`` is what the policy gives ``caller`` on the row's route; else why not."""
    want = expected(row, caller)
    if want is None:
        if status in (401, 403):
            return f"is allowed, but was refused with {status}"
        if status >= 500:
            return f"is allowed, but got a server error {status}"
        return None
    if status != want:
        return f"should be refused with {want}, got {status}"
    return None


def _verdict(row: Row, caller: Caller, status: int) -> str | None:
    """As ``_against_policy``, but a known deviation is held to the answer it gives today."""
    deviation = KNOWN_DEVIATIONS.get((*row.route, caller))
    if deviation is None:
        return _against_policy(row, caller, status)
    if status == deviation.status:
        return None
    return (f"answered {status}, not the {deviation.status} of its known deviation: if the route now follows "
            "the policy, remove the entry from KNOWN_DEVIATIONS")


@pytest.mark.parametrize("row", MATRIX, ids=lambda row: f"{row.service}:{row.method} {row.path}")
def test_each_caller_gets_the_answer_its_role_should(row: Row, services: dict[str, Served]) -> None:
    served = services[row.service]
    route = served.routes.get((row.method, row.path))
    assert route is not None, f"{row.label} is not served (see the coverage test)"
    body = MINIMAL_BODY if row.method in BODY_METHODS else None
    wrong = []
    for caller in CALLERS:
        url = _url(row, route)
        response = served.client.request(row.method, url, headers=served.headers[caller], json=body)
        verdict = _verdict(row, caller, response.status_code)
        if verdict is not None:
            wrong.append(f"  {caller.value}: {row.method} {url} {verdict}: {response.text[:300]}")
        elif response.status_code == 401 and response.headers.get("www-authenticate") != "Bearer":
            wrong.append(f"  {caller.value}: {row.method} {url} a 401 without WWW-Authenticate: Bearer")
        deviation = KNOWN_DEVIATIONS.get((*row.route, caller))
        if deviation is not None and deviation.policy_body is not None:
            # The deviation is in how the refusal comes, not whether: with this body the policy holds.
            response = served.client.request(row.method, url, headers=served.headers[caller], json=deviation.policy_body)
            verdict = _against_policy(row, caller, response.status_code)
            if verdict is not None:
                wrong.append(f"  {caller.value}: {row.method} {url} with {deviation.policy_body}: {verdict}: {response.text[:300]}")
    assert not wrong, f"{row.label}:\n" + "\n".join(wrong)



# --- every JSON body: a key repeated within an object is refused (issue 23 §1.7) -------------

REPEATED_KEY_BODY = b'{"type": "appointment.attended", "data": {"case_id": "x", "case_id": "y"}, "type": "appointment.missed"}'
BODY_ROWS = [row for row in MATRIX if row.method in BODY_METHODS]


@pytest.mark.parametrize("row", BODY_ROWS, ids=lambda row: f"{row.service}:{row.method} {row.path}")
def test_a_body_that_repeats_a_key_is_a_422_problem_on_every_route(row: Row, services: dict[str, Served]) -> None:
    served = services[row.service]
    route = served.routes[(row.method, row.path)]
    if route.body_field is None:
        pytest.skip("takes no body: nothing is parsed")
    caller = next(c for c in KEYED if expected(row, c) is None)  # one the route lets through
    headers = {**served.headers[caller], "Content-Type": "application/json"}
    response = served.client.request(row.method, _url(row, route), headers=headers, content=REPEATED_KEY_BODY)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    # The first repeat from the top: the outer "type", though the inner one was parsed first.
    assert problem["errors"] == [{"pointer": "/type", "detail": 'the key "type" appears more than once in this object'}]


# --- the document states who may call each operation (issue 23 §1.7) ---------------------


def test_the_document_names_the_roles_each_operation_admits() -> None:
    """The policy above is also the OpenAPI document's: each operation's ``x-roles`` (and its
    description) names exactly the callers with a key the row lets through."""
    wrong = []
    for service in SERVICES:
        paths = CREATE_APP[service]().openapi()["paths"]
        for row in (r for r in MATRIX if r.service == service):
            operation = paths[row.path][row.method.lower()]
            keyed = sorted(caller.value for caller in KEYED if caller in row.allowed)
            if row.allowed == EVERYONE_CALLERS:
                if "x-roles" in operation:
                    wrong.append(f"{row.label}: public, yet x-roles {operation['x-roles']}")
                continue
            if sorted(operation.get("x-roles", [])) != keyed:
                wrong.append(f"{row.label}: x-roles {operation.get('x-roles')}, the policy {keyed}")
            elif not all(role in operation.get("description", "") for role in keyed):
                wrong.append(f"{row.label}: its description does not name {keyed}")
    assert not wrong, "\n".join(wrong)
