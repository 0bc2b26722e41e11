from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from diversion_common.reference import ForceCode
from diversion_common.text_limits import bounded_url
from diversion_common.webhooks.schemas import AttemptPublic
from diversion_common.webhooks.tables import ENDPOINT_URL_LENGTH, DeliveryStatus

# The column's length: PostgreSQL refuses a longer value where SQLite would keep it.
WebhookUrl = bounded_url(ENDPOINT_URL_LENGTH)


class PoliceCallbackSet(BaseModel):
    """A force's callback, as the administrator sets it (the whole of it: a PUT)."""

    model_config = ConfigDict(extra="forbid")

    url: WebhookUrl = Field(description="Where status changes are POSTed; https to a public host (this machine only in development).")
    active: StrictBool = Field(default=True, description="false stops new notifications; those waiting are held until it is true again.")


class CallbackPublic(BaseModel):
    recipient: str = Field(description="Who receives: a force code, `court:<court>` or `yju:<force>`.")
    url: str
    active: bool
    created_at: datetime
    updated_at: datetime


class CallbackCreated(CallbackPublic):
    signing_secret: str = Field(description="The `whsec_` secret the notifications are signed with (Standard Webhooks). Shown once.")


class PoliceCallbackPublic(CallbackPublic):
    force: ForceCode


class PoliceCallbackCreated(PoliceCallbackPublic):
    signing_secret: str = Field(description="The `whsec_` secret the notifications are signed with (Standard Webhooks). Shown once.")


class CallbackDeliveryPublic(BaseModel):
    id: str = Field(description="The webhook-id, the same on every try.")
    case_id: uuid.UUID
    recipient: str = Field(description="Who it is for: a force code, `court:<court>` or `yju:<force>`.")
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None = Field(description="When it is tried next, while pending.")
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class CallbackDeliveryDetail(CallbackDeliveryPublic):
    attempts_log: list[AttemptPublic]


class CallbackDeliveryPage(BaseModel):
    items: list[CallbackDeliveryPublic]
    next_cursor: str | None
