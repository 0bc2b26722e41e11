"""The admin endpoints of the provider registry."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from diversion_common.credentials import Role
from provider_gateway.providers.tables import Provider

PROVIDERS = "/v1/admin/providers"
PROBLEM = "application/problem+json"


def provider_body(**overrides) -> dict:
    body = {
        "name": "Reading Recovery Service",
        "pathways": ["adult_deferred_summons"],
        "districts": ["reading"],
        "out_of_hours": False,
        "delivery_mode": "pull",
        "contact_email": "referrals@recovery.example",
    }
    body.update(overrides)
    return body


def provider_count(engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Provider))


def assert_problem(response, status: int, *pointers: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == status
    if pointers:
        assert {e["pointer"] for e in problem.get("errors", [])} == set(pointers)
    return problem


# --- creating and reading ---------------------------------------------------


def test_an_admin_registers_a_provider(gateway, admin, gateway_engine):
    body = provider_body(
        name="Thames Valley Drug Service",
        pathways=["adult_deferred_summons", "youth_community_resolution"],
        districts=["slough", "reading", "slough"],
        out_of_hours=True,
        delivery_mode="webhook",
        webhook_url="https://provider.example/hooks/cases",
    )
    response = gateway.post(PROVIDERS, json=body, headers=admin)

    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"{PROVIDERS}/{created['id']}"
    assert created["name"] == "Thames Valley Drug Service"
    assert created["pathways"] == ["adult_deferred_summons", "youth_community_resolution"]
    assert created["districts"] == ["reading", "slough"]  # de-duplicated and sorted
    assert created["out_of_hours"] is True
    assert created["delivery_mode"] == "webhook"
    assert created["webhook_url"] == "https://provider.example/hooks/cases"
    assert created["active"] is True
    assert created["created_at"].endswith("Z")

    assert created["signing_secret"].startswith("whsec_")

    read = gateway.get(response.headers["location"], headers=admin)
    assert read.status_code == 200
    shown_once = {k: v for k, v in created.items() if k != "signing_secret"}
    assert read.json() == shown_once  # the secret is shown on creation only
    with Session(gateway_engine) as session:
        stored = session.get(Provider, uuid.UUID(created["id"]))
        assert stored is not None
        assert stored.districts == ["reading", "slough"]


def test_the_list_holds_every_provider_by_name(gateway, admin):
    for name in ("Zeta Service", "Alpha Service", "Mid Service"):
        assert gateway.post(PROVIDERS, json=provider_body(name=name), headers=admin).status_code == 201
    response = gateway.get(PROVIDERS, headers=admin)
    assert response.status_code == 200
    assert [p["name"] for p in response.json()] == ["Alpha Service", "Mid Service", "Zeta Service"]


# --- who may call -----------------------------------------------------------


def test_without_a_key_the_registry_is_closed(gateway, gateway_engine):
    for response in (
        gateway.post(PROVIDERS, json=provider_body()),
        gateway.get(PROVIDERS),
        gateway.get(PROVIDERS, headers={"Authorization": "Bearer dl_not-a-real-key"}),
        gateway.patch(f"{PROVIDERS}/{uuid.uuid4()}", json={"active": False}),
    ):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert provider_count(gateway_engine) == 0


@pytest.mark.parametrize("role", [Role.service, Role.police, Role.yju], ids=lambda r: r.value)
def test_only_an_admin_may_manage_providers(gateway, admin, issue_gateway_key, gateway_engine, role):
    existing = gateway.post(PROVIDERS, json=provider_body(), headers=admin).json()
    other = issue_gateway_key(role, force="thames-valley" if role in (Role.police, Role.yju) else None)

    assert_problem(gateway.post(PROVIDERS, json=provider_body(name="Another"), headers=other), 403)
    assert_problem(gateway.get(PROVIDERS, headers=other), 403)
    assert_problem(gateway.get(f"{PROVIDERS}/{existing['id']}", headers=other), 403)
    assert_problem(gateway.patch(f"{PROVIDERS}/{existing['id']}", json={"active": False}, headers=other), 403)

    assert provider_count(gateway_engine) == 1
    assert gateway.get(f"{PROVIDERS}/{existing['id']}", headers=admin).json()["active"] is True


# --- invalid requests -------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "pointer"),
    [
        ({"districts": ["reading", "atlantis"]}, "/districts/1"),
        ({"districts": []}, "/districts"),
        ({"pathways": []}, "/pathways"),
        ({"pathways": ["community_service"]}, "/pathways/0"),
        ({"delivery_mode": "webhook"}, "/webhook_url"),
        ({"delivery_mode": "webhook", "webhook_url": None}, "/webhook_url"),
        ({"delivery_mode": "carrier_pigeon"}, "/delivery_mode"),
        ({"contact_email": "not an email"}, "/contact_email"),
        ({"name": "   "}, "/name"),
        ({"out_of_hours": "yes"}, "/out_of_hours"),
        ({"surprise": 1}, "/surprise"),
    ],
    ids=[
        "unknown-district", "no-districts", "no-pathways", "unknown-pathway", "webhook-without-url",
        "webhook-with-null-url", "unknown-mode", "bad-email", "blank-name", "non-boolean", "unknown-field",
    ],
)
def test_an_invalid_provider_is_a_problem_naming_the_field(gateway, admin, gateway_engine, overrides, pointer):
    response = gateway.post(PROVIDERS, json=provider_body(**overrides), headers=admin)
    problem = assert_problem(response, 422, pointer)
    assert problem["type"].endswith("/validation-failed")
    assert provider_count(gateway_engine) == 0


def test_a_pull_provider_needs_no_webhook_url(gateway, admin):
    response = gateway.post(PROVIDERS, json=provider_body(delivery_mode="pull"), headers=admin)
    assert response.status_code == 201
    assert response.json()["webhook_url"] is None


def test_a_taken_name_is_a_conflict_and_writes_nothing(gateway, admin, gateway_engine):
    first = gateway.post(PROVIDERS, json=provider_body(), headers=admin)
    assert first.status_code == 201
    again = gateway.post(
        PROVIDERS, json=provider_body(districts=["oxford"], contact_email="other@recovery.example"), headers=admin
    )

    problem = assert_problem(again, 409, "/name")
    assert problem["type"].endswith("/provider-name-taken")
    assert "location" not in again.headers
    assert provider_count(gateway_engine) == 1
    listed = gateway.get(PROVIDERS, headers=admin).json()
    assert [(p["id"], p["districts"]) for p in listed] == [(first.json()["id"], ["reading"])]


# --- changing ---------------------------------------------------------------


def test_patch_active_false_disables_a_provider(gateway, admin, gateway_engine):
    created = gateway.post(PROVIDERS, json=provider_body(), headers=admin).json()
    response = gateway.patch(f"{PROVIDERS}/{created['id']}", json={"active": False}, headers=admin)

    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["active"] is False
    assert changed["name"] == created["name"]  # what the change left out is kept
    assert changed["districts"] == created["districts"]
    assert changed["updated_at"] >= created["updated_at"]
    assert gateway.get(f"{PROVIDERS}/{created['id']}", headers=admin).json()["active"] is False
    with Session(gateway_engine) as session:
        assert session.get(Provider, uuid.UUID(created["id"])).active is False

    again = gateway.patch(f"{PROVIDERS}/{created['id']}", json={"active": True}, headers=admin)
    assert again.json()["active"] is True


def test_patch_changes_only_what_it_names(gateway, admin):
    created = gateway.post(PROVIDERS, json=provider_body(), headers=admin).json()
    response = gateway.patch(
        f"{PROVIDERS}/{created['id']}", json={"districts": ["oxford", "reading", "oxford"], "out_of_hours": True}, headers=admin
    )
    assert response.status_code == 200
    assert response.json()["districts"] == ["oxford", "reading"]
    assert response.json()["out_of_hours"] is True
    assert response.json()["pathways"] == created["pathways"]


def test_patch_to_webhook_mode_without_a_url_is_refused(gateway, admin):
    created = gateway.post(PROVIDERS, json=provider_body(), headers=admin).json()
    response = gateway.patch(f"{PROVIDERS}/{created['id']}", json={"delivery_mode": "webhook"}, headers=admin)
    assert_problem(response, 422, "/webhook_url")
    assert gateway.get(f"{PROVIDERS}/{created['id']}", headers=admin).json()["delivery_mode"] == "pull"


def test_patch_may_not_null_a_kept_field(gateway, admin):
    created = gateway.post(PROVIDERS, json=provider_body(), headers=admin).json()
    assert_problem(gateway.patch(f"{PROVIDERS}/{created['id']}", json={"active": None}, headers=admin), 422, "/active")
    assert gateway.get(f"{PROVIDERS}/{created['id']}", headers=admin).json()["active"] is True


def test_renaming_to_a_taken_name_is_a_conflict(gateway, admin):
    first = gateway.post(PROVIDERS, json=provider_body(name="First"), headers=admin).json()
    second = gateway.post(PROVIDERS, json=provider_body(name="Second"), headers=admin).json()
    response = gateway.patch(f"{PROVIDERS}/{second['id']}", json={"name": "First", "active": False}, headers=admin)
    assert_problem(response, 409, "/name")
    kept = gateway.get(f"{PROVIDERS}/{second['id']}", headers=admin).json()
    assert (kept["name"], kept["active"]) == ("Second", True)
    assert gateway.get(f"{PROVIDERS}/{first['id']}", headers=admin).json()["name"] == "First"


def test_renaming_to_a_taken_name_while_changing_mode_is_a_conflict(gateway, admin):
    # Switching the mode moves the provider's deliveries first; that statement must not flush the name unguarded.
    gateway.post(PROVIDERS, json=provider_body(name="First"), headers=admin)
    second = gateway.post(PROVIDERS, json=provider_body(name="Second"), headers=admin).json()
    response = gateway.patch(f"{PROVIDERS}/{second['id']}", json={"name": "First", "delivery_mode": "pull"}, headers=admin)
    assert_problem(response, 409, "/name")
    assert gateway.get(f"{PROVIDERS}/{second['id']}", headers=admin).json()["name"] == "Second"


def test_an_unknown_provider_is_not_found(gateway, admin, gateway_engine):
    missing = f"{PROVIDERS}/{uuid.uuid4()}"
    assert_problem(gateway.get(missing, headers=admin), 404)
    assert_problem(gateway.patch(missing, json={"active": False}, headers=admin), 404)
    assert provider_count(gateway_engine) == 0


def test_a_malformed_provider_id_is_a_problem(gateway, admin):
    assert_problem(gateway.get(f"{PROVIDERS}/not-a-uuid", headers=admin), 422, "#path/provider_id")
