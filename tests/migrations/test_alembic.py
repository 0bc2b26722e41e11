"""The migrations build exactly the tables the models describe, and run both ways."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect

from diversion_common.database import make_engine
from diversion_common.migrations import alembic_config, check, upgrade

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
