"""The migrations build exactly the tables the models describe, and run both ways."""

from __future__ import annotations

import ast

import pytest
from alembic import command
from sqlalchemy import inspect

from diversion_common.database import make_engine
from diversion_common.migrations import REPO_ROOT, alembic_config, check, upgrade

SERVICES = ["referral_api", "provider_gateway"]


@pytest.mark.parametrize("service", SERVICES)
def test_models_and_migrations_agree(fresh_database, service):
    check(service, fresh_database(service))  # raises alembic.util.exc.CommandError on drift


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_downgrade_to_nothing_and_back(fresh_database, service):
    url = fresh_database(service)
    command.downgrade(alembic_config(service, url), "base")
    engine = make_engine(url)
    assert set(inspect(engine).get_table_names()) <= {f"alembic_version_{service}"}
    upgrade(service, url)
    prefix = "referral_" if service == "referral_api" else "gateway_"
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {t for t in tables if t.startswith(prefix)}
    assert not {t for t in tables if not t.startswith((prefix, "alembic_version_"))}


def test_both_services_can_share_one_database(fresh_database):
    url = fresh_database("referral_api")
    upgrade("provider_gateway", url)
    check("referral_api", url)
    check("provider_gateway", url)


def _bodies(service: str) -> dict[str, str]:
    """Each revision's functions (upgrade, downgrade and their helpers), as source, with the service's table
    prefix taken out (so the same steps on referral_* and gateway_* tables compare equal)."""
    prefix = "referral" if service == "referral_api" else "gateway"
    bodies = {}
    for path in sorted((REPO_ROOT / "migrations" / service / "versions").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                source = "\n".join(ast.unparse(statement) for statement in node.body)
                bodies[f"{path.name}:{node.name}"] = source.replace(prefix, "<service>")
    return bodies


def test_no_migration_step_is_copied_from_one_service_to_the_other():
    """A schema change both services need is written once, in diversion_common/migration_steps.py,
    and each service's revision calls it; copies drift apart."""
    referral, gateway = _bodies("referral_api"), _bodies("provider_gateway")
    copied = sorted(
        f"{mine} = {theirs}"
        for mine, body in referral.items()
        for theirs, other in gateway.items()
        if body == other and "op." in body
    )
    assert not copied, "revisions that repeat the other service's steps:\n" + "\n".join(copied)
