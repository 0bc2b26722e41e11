"""Running one service's Alembic environment from code (start-up, CLI, tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

from diversion_common.database import is_sqlite, make_engine, normalise_url

REPO_ROOT = Path(__file__).resolve().parents[3]


def alembic_config(service: str, database_url: str) -> Config:
    config = Config(str(REPO_ROOT / "alembic.ini"), ini_section=service)
    config.set_main_option("script_location", str(REPO_ROOT / "migrations" / service))
    config.attributes["database_url"] = database_url
    return config


def upgrade(service: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, database_url), revision)


def check(service: str, database_url: str) -> None:
    """Raise if the models and the migrations disagree."""
    command.check(alembic_config(service, database_url))


def run_environment(service: str, metadata: MetaData, url_from_settings: str) -> None:
    """The body of a service's migrations/<service>/env.py."""
    config = context.config
    url = normalise_url(config.attributes.get("database_url") or url_from_settings)
    options: dict[str, Any] = {
        "target_metadata": metadata,
        "version_table": f"alembic_version_{service}",
        "render_as_batch": is_sqlite(url),
        "compare_type": True,
        # Both services may share one database: each environment sees only its own tables.
        "include_name": lambda name, type_, _parent: type_ != "table" or name in metadata.tables,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
