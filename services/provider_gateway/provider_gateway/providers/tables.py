from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from sqlalchemy import JSON, Column, DateTime
from sqlmodel import Field

from diversion_common.contracts import EMAIL_LENGTH
from diversion_common.database import utcnow
from diversion_common.webhooks.tables import ENDPOINT_URL_LENGTH, SigningSecretFields
from diversion_common.secrets_at_rest import encrypted_field
from provider_gateway.config import SECRETS_KEYS
from provider_gateway.db import GatewayTable

TIMESTAMP = DateTime(timezone=True)
PROVIDER_NAME_LENGTH = 200  # the request's limit too (providers/schemas.py)


class Provider(GatewayTable, table=True):
    """A treatment provider: what it serves, where, and how cases reach it."""

    __tablename__ = "gateway_providers"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=PROVIDER_NAME_LENGTH, unique=True)
    pathways: list[str] = Field(sa_column=Column(JSON, nullable=False))
    districts: list[str] = Field(sa_column=Column(JSON, nullable=False))
    out_of_hours: bool = False
    delivery_mode: str = Field(max_length=20)
    webhook_url: str | None = Field(default=None, max_length=ENDPOINT_URL_LENGTH)
    contact_email: str = Field(max_length=EMAIL_LENGTH)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]
    updated_at: datetime = Field(default_factory=utcnow, sa_type=TIMESTAMP)  # type: ignore[call-overload]


class ProviderSecret(SigningSecretFields, GatewayTable, table=True):
    """A provider's signing secret (diversion_common.webhooks.tables.SigningSecretFields)."""

    __tablename__ = "gateway_provider_secrets"
    endpoint_column: ClassVar[str] = "provider_id"

    provider_id: uuid.UUID = Field(index=True)
    secret: str = encrypted_field(SECRETS_KEYS)  # encrypted at rest under PROVIDER_GATEWAY_SECRETS_KEYS
