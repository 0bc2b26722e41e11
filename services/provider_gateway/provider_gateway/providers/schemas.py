from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

from diversion_common.reference import DistrictCode

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PathwayCode(StrEnum):
    youth_community_resolution = "youth_community_resolution"
    adult_deferred_summons = "adult_deferred_summons"


class DeliveryMode(StrEnum):
    webhook = "webhook"  # we POST each case to the provider's endpoint
    pull = "pull"  # the provider lists its new cases from us


class ProviderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    pathways: list[PathwayCode] = Field(min_length=1, max_length=2)
    districts: list[DistrictCode] = Field(min_length=1, max_length=40)
    out_of_hours: bool = False
    delivery_mode: DeliveryMode
    webhook_url: AnyHttpUrl | None = Field(default=None, description="Required in webhook mode.")
    contact_email: EmailStr

    @model_validator(mode="after")
    def _webhook_needs_url(self) -> ProviderCreate:
        if self.delivery_mode is DeliveryMode.webhook and self.webhook_url is None:
            raise ValueError("webhook_url is required in webhook mode")
        return self


class ProviderUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    pathways: list[PathwayCode] | None = Field(default=None, min_length=1, max_length=2)
    districts: list[DistrictCode] | None = Field(default=None, min_length=1, max_length=40)
    out_of_hours: bool | None = None
    delivery_mode: DeliveryMode | None = None
    webhook_url: AnyHttpUrl | None = None
    contact_email: EmailStr | None = None
    active: bool | None = None


class ProviderPublic(BaseModel):
    id: uuid.UUID
    name: str
    pathways: list[PathwayCode]
    districts: list[str]
    out_of_hours: bool
    delivery_mode: DeliveryMode
    webhook_url: str | None
    contact_email: str
    active: bool
    created_at: datetime
    updated_at: datetime
