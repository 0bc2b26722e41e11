"""The gateway's copy of the scheme's districts: the ones a provider may be set to serve.

referral_api owns the reference data; this copy was seeded with the same defaults (migration
0011) and follows referral_api's `reference.district_changed` messages (reference/service.py;
docs/ARCHITECTURE.md, "Reference data").
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from diversion_common.database import utcnow
from diversion_common.reference import REFERENCE_CODE_LENGTH
from provider_gateway.db import GatewayTable


class District(GatewayTable, table=True):
    __tablename__ = "gateway_districts"

    code: str = Field(primary_key=True, max_length=REFERENCE_CODE_LENGTH)
    force: str = Field(max_length=REFERENCE_CODE_LENGTH)
    name: str = Field(max_length=100)
    retired: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))  # type: ignore[call-overload]
