"""The shapes police systems send and receive."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StringConstraints

from diversion_common import contracts
from diversion_common.reference import DistrictCode
from diversion_common.vocabulary import enum_of
from diversion_common.text_limits import Email
from diversion_common.wire_types import Date, DateTime
from diversion_common.contracts import PHONE_LENGTH, POSTCODE_LENGTH, CaseStatus, NoControlCharacters, Note, Pathway, PersonText, ProgrammeSummary, text
from referral_api.cases.tables import POLICE_REFERENCE_LENGTH
from referral_api.lifecycle.pathway import encounter_date

# Every text field is bounded and refuses control characters (PostgreSQL stores neither NUL nor
# too long a value; the others forge what is shown): free text through
# contracts.text, the rest by a pattern that admits no NUL, with its length stated too.
Text = PersonText
Phone = Annotated[str, StringConstraints(max_length=PHONE_LENGTH, pattern=r"^\+?[0-9][0-9 ]{6,18}[0-9]$")]
Postcode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_upper=True, max_length=POSTCODE_LENGTH, pattern=r"^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2}$"
    ),
    NoControlCharacters,
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DrugClass(StrEnum):
    A = "A"
    B = "B"
    C = "C"


class Sex(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    not_stated = "not_stated"


class Ethnicity(StrEnum):
    """Self-defined ethnicity, the police 18+1 codes (ONS 2011 categories plus not stated)."""

    A1 = "A1"  # Asian or Asian British: Indian
    A2 = "A2"  # Asian or Asian British: Pakistani
    A3 = "A3"  # Asian or Asian British: Bangladeshi
    A4 = "A4"  # Asian or Asian British: Chinese
    A9 = "A9"  # Asian or Asian British: any other Asian background
    B1 = "B1"  # Black or Black British: Caribbean
    B2 = "B2"  # Black or Black British: African
    B9 = "B9"  # Black or Black British: any other Black background
    M1 = "M1"  # Mixed: White and Black Caribbean
    M2 = "M2"  # Mixed: White and Black African
    M3 = "M3"  # Mixed: White and Asian
    M9 = "M9"  # Mixed: any other mixed background
    O2 = "O2"  # Other ethnic group: Arab
    O9 = "O9"  # Other ethnic group: any other
    W1 = "W1"  # White: British
    W2 = "W2"  # White: Irish
    W3 = "W3"  # White: Gypsy or Irish Traveller
    W9 = "W9"  # White: any other White background
    NS = "NS"  # Not stated


# How the person would like to be contacted: the ways of the providers' vocabulary that need no meeting.
ContactMethod = enum_of(
    "ContactMethod", contracts.ContactMethod.phone, contracts.ContactMethod.sms, contracts.ContactMethod.email,
    contracts.ContactMethod.letter, module=__name__,
)


class Drug(Strict):
    name: Text = Field(examples=["cannabis"])
    drug_class: DrugClass = Field(alias="class", examples=["B"])

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


def _has_a_local_date(value: datetime) -> datetime:
    # The rules take the encounter's date in the scheme's time zone; in the first minutes of
    # year 1 (UTC) that date would be before year 1, which Python cannot represent.
    try:
        encounter_date(value)
    except OverflowError:
        raise ValueError("is outside the range of dates this service handles") from None
    return value


class Encounter(Strict):
    occurred_at: Annotated[DateTime, AfterValidator(_has_a_local_date)] = Field(description="When the drugs were found (with a UTC offset).")
    district: DistrictCode = Field(description="A district in use of the referring force: GET /v1/reference/districts lists them.")
    postcode: Postcode | None = None


class Officer(Strict):
    collar_number: Annotated[str, StringConstraints(max_length=10, pattern=r"^[A-Za-z0-9]{1,10}$")] = Field(examples=["TV4521"])
    name: Text
    email: Email | None = None
    phone: Phone | None = None


class Address(Strict):
    line1: Text
    line2: Text | None = None
    town: Text
    postcode: Postcode


class ContactPreferences(Strict):
    preferred_method: ContactMethod = ContactMethod.phone
    out_of_hours_appointments: StrictBool = Field(
        default=False, description="The person asked for appointments outside office hours."
    )


class Subject(Strict):
    given_name: Text
    family_name: Text
    date_of_birth: Date
    sex: Sex
    ethnicity: Ethnicity = Field(description="Self-defined ethnicity, 18+1 code.")
    address: Address
    phone: Phone | None = None
    email: Email | None = None
    contact_preferences: ContactPreferences = Field(default_factory=ContactPreferences)


class Guardian(Strict):
    name: Text
    relationship: Text = Field(examples=["mother"])
    phone: Phone | None = None
    email: Email | None = None


# A field the intake rules (cases/rules.py) require to be true: the document says so (const), and false is a 422.
_MUST_BE_TRUE: dict[str, Any] = {"const": True}


class Checks(Strict):
    identity_confirmed: StrictBool = Field(description="Must be true: the check is done before referral.", json_schema_extra=_MUST_BE_TRUE)
    pnc_checked: StrictBool = Field(description="Must be true: the check is done before referral.", json_schema_extra=_MUST_BE_TRUE)
    niche_checked: StrictBool = Field(description="Must be true: the check is done before referral.", json_schema_extra=_MUST_BE_TRUE)
    guardian_contacted: StrictBool = Field(default=False, description="Must be true for under-18s (18 or over on the encounter date: may be false).")


# A synthetic person; the same referral as docs/examples/adult-referral.json.
EXAMPLE_ADULT_REFERRAL = {
    "police_reference": "43/10001/26",
    "encounter": {
        "occurred_at": "2026-11-20T21:15:00+00:00",
        "district": "reading",
        "postcode": "RG1 1AA"
    },
    "drugs": [
        {
            "name": "cannabis",
            "class": "B"
        }
    ],
    "body_worn_video_reference": "BWV-TV4521-0001",
    "officer": {
        "collar_number": "TV4521",
        "name": "PC Sample Officer",
        "email": "pc.sample@police.example"
    },
    "subject": {
        "given_name": "Alex",
        "family_name": "Example",
        "date_of_birth": "1998-04-02",
        "sex": "not_stated",
        "ethnicity": "NS",
        "address": {
            "line1": "1 Test Street",
            "town": "Reading",
            "postcode": "RG1 2AB"
        },
        "phone": "07700 900123",
        "contact_preferences": {
            "preferred_method": "sms",
            "out_of_hours_appointments": True
        }
    },
    "checks": {
        "identity_confirmed": True,
        "pnc_checked": True,
        "niche_checked": True
    },
    "previous_diversions": 0,
    "consent_to_share": True
}


class ReferralCreate(Strict):
    """A police force's referral of one person for one encounter."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [EXAMPLE_ADULT_REFERRAL]})

    police_reference: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, max_length=POLICE_REFERENCE_LENGTH, pattern=rf"^[A-Za-z0-9/_-]{{3,{POLICE_REFERENCE_LENGTH}}}$"
        ),
        NoControlCharacters,
    ] = Field(description="The force's own occurrence reference; unique per force.", examples=["43/12345/26"])
    encounter: Encounter
    drugs: list[Drug] = Field(min_length=1, max_length=10)
    body_worn_video_reference: text(60) | None = Field(default=None, description="Required for adults (18+ on the encounter date).")
    officer: Officer
    subject: Subject
    guardian: Guardian | None = Field(default=None, description="Required for under-18s.")
    checks: Checks
    previous_diversions: StrictInt = Field(ge=0, le=100, description="Previous drug diversions of this person.")
    consent_to_share: StrictBool = Field(
        description="Consent to share with the treatment provider; must be true (false: 422).", json_schema_extra=_MUST_BE_TRUE
    )


class HistoryEntry(BaseModel):
    """A change of status, at the time the fact that caused it happened."""

    status: CaseStatus
    event: str = Field(description="The kind of fact that changed the status, e.g. `appointment.booked`.")
    at: datetime
    reason: str | None = None


class CasePublic(BaseModel):
    """A case as the force that referred it sees it."""

    id: uuid.UUID
    police_reference: str
    force: str
    status: CaseStatus
    pathway: Pathway
    district: str
    created_at: datetime
    updated_at: datetime


class CaseDetail(CasePublic):
    version: int = Field(description="How many facts the case's log holds; grows with every change.")
    programme: ProgrammeSummary
    history: list[HistoryEntry]


class TimelineEntry(BaseModel):
    seq: int = Field(description="The order in which we learnt of it.")
    kind: str = Field(examples=["appointment.missed"])
    at: datetime = Field(description="When it happened.")
    reported_at: datetime | None = Field(description="When we were told, where that was more than a minute later.")
    source: str = Field(examples=["provider"], description="police, yju, gateway (routing) or provider.")
    description: str = Field(description="In plain words; never a provider's free-text note.")
    superseded: bool = Field(description="A later report about the same appointment corrected this one.")


class TimelinePage(BaseModel):
    case_id: uuid.UUID
    status: CaseStatus
    version: int
    items: list[TimelineEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")
    next: str | None = Field(description="The next page's path (with its cursor and limit); null on the last page.")


class CasePage(BaseModel):
    items: list[CasePublic]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class ReferralWithdrawalReason(StrEnum):
    charged_instead = "charged_instead"
    submitted_in_error = "submitted_in_error"
    duplicate = "duplicate"
    not_eligible = "not_eligible"
    other = "other"


class WithdrawRequest(Strict):
    reason: ReferralWithdrawalReason
    note: Note | None = None
