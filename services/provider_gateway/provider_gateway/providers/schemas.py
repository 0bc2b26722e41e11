from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from diversion_common.contracts import Pathway, text
from diversion_common.reference import DistrictCode
from diversion_common.text_limits import Email, bounded_url
from diversion_common.wire_types import unchanged
from diversion_common.webhooks.tables import ENDPOINT_URL_LENGTH
from provider_gateway.providers.tables import PROVIDER_NAME_LENGTH

# The columns' lengths: PostgreSQL refuses longer values (and NUL) where SQLite would keep them.
Name = text(PROVIDER_NAME_LENGTH)
WebhookUrl = bounded_url(ENDPOINT_URL_LENGTH)


class DeliveryMode(StrEnum):
    webhook = "webhook"  # we POST each case to the provider's endpoint
    pull = "pull"  # the provider lists its new cases from us


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    pathways: list[Pathway] = Field(min_length=1, max_length=2)
    districts: list[DistrictCode] = Field(min_length=1, max_length=40)
    out_of_hours: StrictBool = False
    delivery_mode: DeliveryMode
    # validate_default: a left-out webhook_url is checked too. A field validator (not a model
    # one) so the problem's pointer names /webhook_url; delivery_mode is declared, so checked, first.
    webhook_url: WebhookUrl | None = Field(
        default=None, validate_default=True, description="Required in webhook mode; https to a public host (this machine only in development)."
    )
    contact_email: Email

    @field_validator("webhook_url")
    @classmethod
    def _webhook_needs_url(cls, value: AnyHttpUrl | None, info: ValidationInfo) -> AnyHttpUrl | None:
        if value is None and info.data.get("delivery_mode") is DeliveryMode.webhook:
            raise ValueError("is required in webhook mode")
        return value


class ProviderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = unchanged()
    pathways: list[Pathway] | None = unchanged(min_length=1, max_length=2)
    districts: list[DistrictCode] | None = unchanged(min_length=1, max_length=40)
    out_of_hours: StrictBool | None = unchanged()
    delivery_mode: DeliveryMode | None = unchanged()
    webhook_url: WebhookUrl | None = None
    contact_email: Email | None = unchanged()
    active: StrictBool | None = unchanged()


class ProviderPublic(BaseModel):
    id: uuid.UUID
    name: str
    pathways: list[Pathway]
    districts: list[str]
    out_of_hours: bool
    delivery_mode: DeliveryMode
    webhook_url: str | None
    contact_email: str
    active: bool
    created_at: datetime
    updated_at: datetime


class ProviderCreated(ProviderPublic):
    signing_secret: str = Field(
        description="The `whsec_` secret our webhooks to this provider are signed with, and its events must be. Shown once."
    )
