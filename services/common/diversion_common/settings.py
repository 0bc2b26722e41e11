"""What both services' settings share: a bad one is named in one line, secrets may come from files.

A setting that does not parse (``REFERRAL_API_BREACH_CHECK_SECONDS=abc``) is an
``InvalidSetting`` naming the variable and what is wrong: pydantic's message, which never
quotes the value (it may be a key or a password; only our validators of settings that hold
no secret, a rate limit's spelling or a court's name, quote what they could not read):
the CLI prints it as its one error line, and a service process logs it as one line and
exits before it listens (``settings_from_environment``).

Any setting may come from a file named after its variable, in lower case, in the secrets
directory (``DIVERSION_SECRETS_DIR``, by default ``/run/secrets/``, where Docker and compose
mount secrets), instead of the environment; the environment wins when both are set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import structlog
from pydantic import AfterValidator, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from diversion_common.secrets_at_rest import SecretsKeyError, keyring, use_keys

SECRETS_DIR = Path(os.environ.get("DIVERSION_SECRETS_DIR", "/run/secrets"))
_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
_FIELD_IN_SETTINGS_ERROR = re.compile(r'field "([a-z0-9_]+)"')

log = structlog.get_logger("diversion.settings")


class InvalidSetting(ValueError):
    """A setting that does not parse: its variable and what is wrong."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def _log_level(value: str) -> str:
    if value.upper() not in _LEVELS:
        raise ValueError(f"must be one of {', '.join(_LEVELS)}")
    return value.upper()


def _database_url(value: str) -> str:
    try:
        backend = make_url(value).get_backend_name()
    except ArgumentError:
        raise ValueError("not a database URL (sqlite:///path or postgresql://user@host/database)") from None
    if backend not in ("sqlite", "postgresql"):
        raise ValueError("only sqlite and postgresql databases are supported")
    return value


LogLevel = Annotated[str, AfterValidator(_log_level)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]


class ServiceSettings(BaseSettings):
    # Only where there is one: pydantic-settings warns about a secrets directory that is missing.
    model_config = SettingsConfigDict(secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None)

    def __init__(self, **values: Any) -> None:
        prefix = type(self).model_config.get("env_prefix", "")
        try:
            super().__init__(**values)
        except ValidationError as error:
            first = error.errors()[0]
            name = str(first["loc"][0]) if first["loc"] else "settings"
            more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
            problem = first["msg"].removeprefix("Value error, ")
            raise InvalidSetting(f"{prefix}{name.upper()}", f"{problem}{more}") from None
        except SettingsError as error:  # a value that should be JSON and is not
            found = _FIELD_IN_SETTINGS_ERROR.search(str(error))
            raise InvalidSetting(f"{prefix}{found.group(1).upper()}" if found else prefix.rstrip("_"), "is not valid JSON") from None


Settings = TypeVar("Settings", bound=ServiceSettings)


def settings_from_environment(settings_class: type[Settings], secrets_keys: str) -> Settings:
    """A service process's settings; a bad one, or unusable ``secrets_keys``, stops it with one line."""
    try:
        settings = settings_class()
        use_keys(secrets_keys, getattr(settings, "secrets_keys"))
        keyring(secrets_keys)  # as the lifespan would, but before uvicorn could print a traceback
    except InvalidSetting as error:
        _refuse_to_start(f"invalid setting {error}", error.variable)
    except SecretsKeyError as error:  # its message names the setting, never a key
        _refuse_to_start(str(error), secrets_keys)
    return settings


def _refuse_to_start(message: str, variable: str) -> NoReturn:
    from diversion_common.observability import configure_logging

    configure_logging("INFO")
    log.error(message, setting=variable)
    raise SystemExit(1)
