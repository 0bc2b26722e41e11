"""What the reference routes take and answer (reference/routes.py)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from diversion_common.contracts import INTEGER_MAX, text
from diversion_common.reference import CourtCode, DistrictCode, ForceCode
from diversion_common.wire_types import unchanged
from referral_api.reference.tables import NAME_LENGTH

Name = text(NAME_LENGTH)
Population = Annotated[StrictInt, Field(ge=0, le=INTEGER_MAX, description="For rates per 1,000 people in reports.")]
RETIRED = "Retired: refused on new referrals and assignments; kept on what already names it."


class ForcePublic(BaseModel):
    code: str
    name: str
    retired: bool = Field(description=RETIRED)


class CourtPublic(BaseModel):
    code: str
    name: str
    retired: bool = Field(description=RETIRED)


class DistrictPublic(BaseModel):
    code: str
    name: str
    force: str
    population: int
    court: str = Field(description="The magistrates' court that hears this district's adults' breach requests.")
    retired: bool = Field(description=RETIRED)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ForceCreate(_Strict):
    code: ForceCode
    name: Name


class CourtCreate(_Strict):
    code: CourtCode
    name: Name


class DistrictCreate(_Strict):
    code: DistrictCode
    name: Name
    force: ForceCode
    population: Population
    court: CourtCode


class ForceUpdate(_Strict):
    name: Name | None = unchanged()
    retired: StrictBool | None = unchanged(description=RETIRED)


class CourtUpdate(_Strict):
    name: Name | None = unchanged()
    retired: StrictBool | None = unchanged(description=RETIRED)


class DistrictUpdate(_Strict):
    name: Name | None = unchanged()
    force: ForceCode | None = unchanged()
    population: Population | None = unchanged()
    court: CourtCode | None = unchanged(description="Its adults' next breach requests go to this court.")
    retired: StrictBool | None = unchanged(description=RETIRED)
