"""What every command shares: the services, the operator running it, its audit row, its errors.

Light to import (``--help`` loads this): the services' modules are imported where used.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from diversion_common import actors

if TYPE_CHECKING:
    from sqlmodel import Session


class Service(StrEnum):
    referral_api = "referral_api"
    provider_gateway = "provider_gateway"


class CommandError(Exception):
    """An error the operator can act on: printed as one line, the command exits non-zero."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def fail(message: str, code: int = 2) -> NoReturn:
    raise CommandError(message, code)


class Options:
    """What the top-level options said (set by the app's callback)."""

    operator: str | None = None


def operator_actor() -> str:
    """The actor an operator's changes name: ``operator:<--operator, else the OS user>``."""
    try:
        return actors.operator(actors.operator_name(Options.operator))
    except actors.NoOperatorName as error:
        fail(str(error))


def database_url(service: Service) -> str:
    if service is Service.referral_api:
        from referral_api.config import Settings as ReferralSettings

        return ReferralSettings().database_url
    from provider_gateway.config import Settings as GatewaySettings

    return GatewaySettings().database_url


def audit_tables(service: Service) -> tuple[type, type]:
    if service is Service.referral_api:
        from referral_api.audit.tables import AuditCase, AuditRecord
    else:
        from provider_gateway.audit.tables import AuditCase, AuditRecord  # type: ignore[assignment]
    return AuditRecord, AuditCase


def audited(
    session: Session, service: Service, command: str, *, ids: dict[str, Any] | None = None, case_ids: Iterable[uuid.UUID] = (),
) -> None:
    """The audit row of this command's change, added to the change's own transaction (``session``)."""
    from diversion_common.audit.commands import audit_command

    record_table, case_table = audit_tables(service)
    audit_command(session, record_table, case_table, actor=operator_actor(), command=command, ids=ids, case_ids=case_ids)
