"""The contract between the two services and with providers: topics, payloads, vocabularies.

Both services import these models: the producer builds the model and dumps it,
the consumer parses the same model. Nothing here does I/O.
"""

from __future__ import annotations

import typing

import uuid
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import CoreSchema

from diversion_common.reference import DistrictCode, ForceCode
from diversion_common.wire_types import DateTime


# Control characters are refused in all text: C0 (U+0000-U+001F), DEL and C1 (U+007F-U+009F).
# They forge log lines and terminal output, hide text in what an officer or a court reads, and
# PostgreSQL cannot store NUL at all (SQLite can: both databases must agree). Multi-line free
# text (a note) may hold tab and line feed; nothing else may.
SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
_MULTI_LINE_ALLOWS = frozenset("\t\n")


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first control character ``value`` may not hold, if any."""
    for character in value:
        point = ord(character)
        if (point < 0x20 or 0x7F <= point <= 0x9F) and not (multiline and character in _MULTI_LINE_ALLOWS):
            return character
    return None


def _refuses_control_characters(multiline: bool) -> Any:
    def check(value: Any) -> Any:
        # Before trimming: a trailing line feed in a one-line field is refused, as the pattern says.
        if isinstance(value, str):
            found = control_character(value, multiline=multiline)
            if found is not None:
                allowed = " (tab and line feed are allowed)" if multiline else ""
                raise ValueError(f"must not contain control characters such as U+{ord(found):04X}{allowed}")
        return value

    return BeforeValidator(check)


# For a field with a pattern of its own that trimming could satisfy (a postcode, a reference):
# refuses a control character before the trim, as text() does.
NoControlCharacters = _refuses_control_characters(False)


class _DocumentedPattern:
    """Says in the document what ``_refuses_control_characters`` refuses, so that clients and contract tests know it."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {**handler(schema), "pattern": self.pattern}


class _Written:
    """Marks text a person writes, as opposed to a code: it may say anything about anyone (health
    included), so retention erases it (``free_text_fields``)."""


_WRITTEN = _Written()


def text(max_length: int, min_length: int = 1, *, multiline: bool = False) -> Any:
    """A trimmed text field of bounded length with no control characters (``multiline``: tab and line feed allowed)."""
    return Annotated[
        str,
        _WRITTEN,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        _refuses_control_characters(multiline),
        _DocumentedPattern(MULTI_LINE_PATTERN if multiline else SINGLE_LINE_PATTERN),
    ]


def code(max_length: int) -> Any:
    """An id or a vocabulary word, bounded, with no control characters; kept as sent (not trimmed)."""
    return Annotated[
        str,
        StringConstraints(min_length=1, max_length=max_length),
        _refuses_control_characters(False),
        _DocumentedPattern(SINGLE_LINE_PATTERN),
    ]


# Limits of what one service takes and passes on to the other: both check the same ones, so a
# value one took the other takes too. A limit that is also a column's is that column's length.
PERSON_TEXT_LENGTH = 100  # a name, an address line, a drug: the police referral's free text
PHONE_LENGTH = 21  # "+", then 8 to 20 digits and spaces (the referral's pattern)
POSTCODE_LENGTH = 8
EMAIL_LENGTH = 320  # 64 + "@" + 255 (RFC 3696); the providers' contact_email column
CODE_LENGTH = 60  # a vocabulary word: a status, a kind, a method...
FORCE_LENGTH = 60  # the force columns
REASON_LENGTH = 300  # the routing decision's reason column
NOTE_LENGTH = 500
WEBHOOK_ID_LENGTH = 100  # the event receipts' webhook_id column
APPOINTMENT_ID_LENGTH = 64
INTEGER_MAX = 2**31 - 1  # a PostgreSQL integer column (SQLite's hold 64 bits)

Note = text(NOTE_LENGTH, min_length=0, multiline=True)
ShortReason = text(REASON_LENGTH)
PersonText = text(PERSON_TEXT_LENGTH)
PostcodeText = text(POSTCODE_LENGTH)
PhoneText = text(PHONE_LENGTH)
EmailText = text(EMAIL_LENGTH)
Code = code(CODE_LENGTH)
ForceText = code(FORCE_LENGTH)
ReasonCode = code(REASON_LENGTH)
WebhookId = code(WEBHOOK_ID_LENGTH)


class Pathway(StrEnum):
    youth_community_resolution = "youth_community_resolution"
    adult_deferred_summons = "adult_deferred_summons"


class CaseStatus(StrEnum):
    """The one vocabulary of case statuses. referral_api decides them; the gateway mirrors them."""

    awaiting_yju_decision = "awaiting_yju_decision"
    awaiting_routing = "awaiting_routing"
    routed = "routed"
    unroutable = "unroutable"
    accepted_by_provider = "accepted_by_provider"
    in_programme = "in_programme"  # first contact or booking made
    engagement_refused = "engagement_refused"  # the person said they will not take part
    completed = "completed"
    closed_by_provider = "closed_by_provider"  # moved away, in custody, died...: not the person's failure
    declined_by_yju = "declined_by_yju"
    withdrawn = "withdrawn"
    breach_requested = "breach_requested"  # non-engagement: a breach request is open for the court or the YJU
    breach_decided = "breach_decided"  # the court or the YJU recorded its outcome on the breach request


TERMINAL_STATUSES = frozenset(
    {
        CaseStatus.completed,
        CaseStatus.closed_by_provider,
        CaseStatus.declined_by_yju,
        CaseStatus.withdrawn,
        CaseStatus.breach_decided,
    }
)
# No provider has taken the case on yet (by referral.accepted, or by beginning work with the person).
NOT_YET_TAKEN_ON = frozenset({CaseStatus.awaiting_yju_decision, CaseStatus.awaiting_routing, CaseStatus.routed, CaseStatus.unroutable})


class Topic(StrEnum):
    """Messages between the services (outbox to inbox)."""

    routing_requested = "case.routing_requested"  # referral_api -> gateway: route this case
    status_changed = "case.status_changed"  # referral_api -> gateway: the status, for its mirror
    routed = "case.routed"  # gateway -> referral_api: a provider was chosen
    unroutable = "case.unroutable"  # gateway -> referral_api: no provider can take it
    provider_event = "provider.event_reported"  # gateway -> referral_api: a provider's signed event
    notice = "case.notice"  # referral_api -> gateway: a warning or a deadline reminder, for the provider
    district_changed = "reference.district_changed"  # referral_api -> gateway: a district added, changed or retired


# --- referral_api -> gateway ------------------------------------------------------


class ReferralDrug(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    name: PersonText
    drug_class: Code = Field(alias="class")


class ReferralAddress(BaseModel):
    line1: PersonText
    line2: PersonText | None = None
    town: PersonText
    postcode: PostcodeText


class ReferralContactPreferences(BaseModel):
    preferred_method: Code
    out_of_hours_appointments: bool


class ReferralSubject(BaseModel):
    given_name: PersonText
    family_name: PersonText
    date_of_birth: date
    sex: Code
    address: ReferralAddress
    phone: PhoneText | None = None
    email: EmailText | None = None
    contact_preferences: ReferralContactPreferences


class ReferralGuardian(BaseModel):
    name: PersonText
    relationship: PersonText
    phone: PhoneText | None = None
    email: EmailText | None = None


class ProviderReferral(BaseModel):
    """What a treatment provider needs to contact and treat the person, and nothing more:
    no PNC or Niche detail, no officer, no body-worn video reference, no ethnicity."""

    case_id: uuid.UUID
    pathway: Pathway
    district: DistrictCode
    force: ForceText
    encounter_date: date
    drugs: list[ReferralDrug]
    subject: ReferralSubject
    guardian: ReferralGuardian | None = None
    out_of_hours_appointments: bool


class BookedAppointment(BaseModel):
    appointment_id: code(APPOINTMENT_ID_LENGTH)
    kind: Code
    starts_at: datetime
    mode: Code
    out_of_hours: bool


class ProgrammeSummary(BaseModel):
    """Programme progress as every party may see it: what is done, what is next, the counts.
    No health detail beyond the assessment's outcome."""

    required: list[Code]
    done: list[Code]
    remaining: list[Code]
    next_appointment: BookedAppointment | None = None
    contact_attempts: int = 0
    contacted: bool = False
    attended: int = 0
    missed: dict[str, int] = Field(default_factory=dict, description="Missed appointments by reason category.")
    cancelled: int = 0
    assessment_outcome: Code | None = None
    assessment_due: datetime | None = None
    completion_due: datetime | None = None


class CaseStatusChanged(BaseModel):
    """The case after a new fact; a mirror applies it only when ``version`` is newer than its own."""

    case_id: uuid.UUID
    status: CaseStatus
    version: StrictInt = Field(ge=1, le=INTEGER_MAX)
    reason: ReasonCode | None = Field(default=None, description="Why, for a withdrawal: its reason code.")
    programme: ProgrammeSummary | None = None


class NoticeKind(StrEnum):
    warning = "warning"  # a first unacceptable missed appointment: a second one raises a breach
    reminder = "reminder"  # a deadline is near


class Deadline(StrEnum):
    assessment = "assessment"
    completion = "completion"
    oic_review = "oic_review"  # the officer's review of a breach request (police only)


class _Notice(BaseModel):
    """What a warning or a reminder says, whoever is told it."""

    case_id: uuid.UUID
    notice: NoticeKind
    deadline: Deadline | None = Field(default=None, description="For a reminder: which deadline.")
    due_at: datetime | None = Field(default=None, description="For a reminder: when the deadline falls.")
    appointment_id: code(100) | None = Field(default=None, description="For a warning: the missed appointment.")


class CaseNotice(_Notice):
    """A warning or a reminder about a case, for the provider working with the person."""

    occurred_at: datetime


class DistrictChanged(BaseModel):
    """A district as referral_api now has it (added, changed or retired): the gateway keeps a copy
    of the districts, to check the ones a provider is set to serve. The whole district each time,
    so the last message wins; all go under one aggregate id (REFERENCE_AGGREGATE), so in order."""

    code: DistrictCode
    force: ForceCode
    name: PersonText
    retired: bool


# The aggregate every reference data message is sent under: one stream, delivered in order.
REFERENCE_AGGREGATE = uuid.UUID("5f0d6c3e-7f1a-4d8e-9a57-2b1d0c6e4f10")


# --- gateway -> referral_api ------------------------------------------------------


class CaseRouted(BaseModel):
    case_id: uuid.UUID
    provider_id: uuid.UUID
    reason: ShortReason
    occurred_at: datetime


class CaseUnroutable(BaseModel):
    case_id: uuid.UUID
    reason: ShortReason
    occurred_at: datetime


# --- the providers' event vocabulary (Refer & Monitor, NDTMS) -------------------------

AppointmentId = Annotated[
    str,
    StringConstraints(max_length=APPOINTMENT_ID_LENGTH, pattern=rf"^[A-Za-z0-9._:-]{{1,{APPOINTMENT_ID_LENGTH}}}$"),
    Field(description="The provider's own id; unique per provider."),
]


class ProviderEventType(StrEnum):
    referral_accepted = "referral.accepted"
    referral_rejected = "referral.rejected"
    contact_attempted = "contact.attempted"
    appointment_booked = "appointment.booked"
    appointment_cancelled = "appointment.cancelled"
    appointment_attended = "appointment.attended"
    appointment_missed = "appointment.missed"
    assessment_completed = "assessment.completed"
    intervention_completed = "intervention.completed"
    course_completed = "course.completed"
    engagement_refused = "engagement.refused"
    case_closed_by_provider = "case.closed_by_provider"


class RejectionReason(StrEnum):
    out_of_area = "out_of_area"
    no_capacity = "no_capacity"
    not_suitable = "not_suitable"
    other = "other"


class ContactMethod(StrEnum):
    phone = "phone"
    sms = "sms"
    email = "email"
    letter = "letter"
    in_person = "in_person"
    video = "video"


class ContactOutcome(StrEnum):
    reached = "reached"
    no_answer = "no_answer"
    message_left = "message_left"
    wrong_details = "wrong_details"


class AppointmentKind(StrEnum):
    assessment = "assessment"
    intervention = "intervention"
    session = "session"
    follow_up = "follow_up"


class AppointmentMode(StrEnum):
    in_person = "in_person"
    phone = "phone"
    video = "video"
    online = "online"


class CancelledBy(StrEnum):
    provider = "provider"
    person = "person"


class Punctuality(StrEnum):
    on_time = "on_time"
    late = "late"


class AbsenceCategory(StrEnum):
    acceptable = "acceptable"
    unacceptable = "unacceptable"
    logistics = "logistics"  # the service could not hold it


class AssessmentOutcome(StrEnum):
    suitable_for_programme = "suitable_for_programme"
    referred_to_treatment = "referred_to_treatment"
    not_suitable = "not_suitable"


class Intervention(StrEnum):
    online_intervention_1 = "online_intervention_1"  # adults
    online_intervention_2 = "online_intervention_2"  # adults
    follow_up = "follow_up"  # adults: the personal follow-up
    session = "session"  # young people: one of the six course sessions, with its number


class ProviderClosureReason(StrEnum):
    moved_away = "moved_away"
    in_custody = "in_custody"
    died = "died"
    transferred = "transferred"
    other = "other"


# Clocks differ: how far a provider's times may run from ours, and from each other, before an
# event is refused as impossible (referral_api/lifecycle/rules.py applies it; stated below).
CLOCK_ALLOWANCE = timedelta(minutes=5)
_ALLOWANCE = f"{CLOCK_ALLOWANCE.seconds // 60} minutes"
_OUTCOME_RULES = (
    "Refused with 409 `appointment_not_booked` while the appointment's `appointment.booked` is not recorded: "
    "`refusal.retryable` is then true, and the same event, sent again under the same webhook-id once the booking "
    "is recorded, is applied. Refused with 409 `outcome_before_booking` if `occurred_at` is before the booking's."
)


class EventData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: uuid.UUID
    occurred_at: DateTime = Field(description="When it happened (RFC 3339 with an offset), not when it is sent.")


class AcceptedData(EventData):
    pass


class RejectedData(EventData):
    reason: RejectionReason
    note: Note | None = None


class ContactAttemptedData(EventData):
    method: ContactMethod
    outcome: ContactOutcome


class AppointmentBookedData(EventData):
    appointment_id: AppointmentId
    kind: AppointmentKind
    starts_at: DateTime = Field(
        description=(
            "When the appointment starts (RFC 3339 with an offset). Refused with 409 `appointment_before_acceptance` "
            "if it is before the case was accepted (the earlier of `referral.accepted` and the provider's first programme "
            f"event, this booking included) by more than {_ALLOWANCE}, and with 409 `appointment_starts_before_booking` "
            f"if it is before this booking's own `occurred_at` by more than {_ALLOWANCE}: an appointment is booked before it starts."
        )
    )
    mode: AppointmentMode
    out_of_hours: StrictBool = False


class AppointmentCancelledData(EventData):
    __doc__ = f"An appointment cancelled (before or after it was due). {_OUTCOME_RULES}"

    appointment_id: AppointmentId
    cancelled_by: CancelledBy
    reason: ShortReason | None = None


class AppointmentAttendedData(EventData):
    __doc__ = (
        "The person attended. Refused with 409 `appointment_not_started` unless the appointment (its latest booking) "
        f"had started by `occurred_at` ({_ALLOWANCE} allowed), and with 409 `appointment_before_acceptance` if it "
        f"started before the case was accepted (by more than {_ALLOWANCE}). {_OUTCOME_RULES}"
    )

    appointment_id: AppointmentId
    punctuality: Punctuality = Punctuality.on_time


class AppointmentMissedData(EventData):
    __doc__ = (
        "The person did not attend. Refused with 409 `appointment_not_started` unless the appointment (its latest booking) "
        f"had started by `occurred_at` ({_ALLOWANCE} allowed), and with 409 `appointment_before_acceptance` if it "
        f"started before the case was accepted (by more than {_ALLOWANCE}). {_OUTCOME_RULES}"
    )

    appointment_id: AppointmentId
    reason_category: AbsenceCategory
    note: Note | None = None


class AssessmentCompletedData(EventData):
    outcome: AssessmentOutcome


class InterventionCompletedData(EventData):
    intervention: Intervention
    session_number: StrictInt | None = Field(default=None, ge=1, le=6, description="Young people's sessions only: 1 to 6.")

    @model_validator(mode="after")
    def _session_has_a_number(self) -> InterventionCompletedData:
        if self.intervention is Intervention.session and self.session_number is None:
            raise ValueError("a session needs its session_number")
        if self.intervention is not Intervention.session and self.session_number is not None:
            raise ValueError("only a session has a session_number")
        return self


class CourseCompletedData(EventData):
    pass


class EngagementRefusedData(EventData):
    note: Note | None = None


class ClosedByProviderData(EventData):
    reason: ProviderClosureReason
    note: Note | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Standard Webhooks payloads may carry their own timestamp; the signed header is what counts.
    timestamp: DateTime | None = None


class ReferralAcceptedEvent(_Event):
    type: Literal["referral.accepted"]
    data: AcceptedData


class ReferralRejectedEvent(_Event):
    type: Literal["referral.rejected"]
    data: RejectedData


class ContactAttemptedEvent(_Event):
    type: Literal["contact.attempted"]
    data: ContactAttemptedData


class AppointmentBookedEvent(_Event):
    type: Literal["appointment.booked"]
    data: AppointmentBookedData


class AppointmentCancelledEvent(_Event):
    type: Literal["appointment.cancelled"]
    data: AppointmentCancelledData


class AppointmentAttendedEvent(_Event):
    type: Literal["appointment.attended"]
    data: AppointmentAttendedData


class AppointmentMissedEvent(_Event):
    type: Literal["appointment.missed"]
    data: AppointmentMissedData


class AssessmentCompletedEvent(_Event):
    type: Literal["assessment.completed"]
    data: AssessmentCompletedData


class InterventionCompletedEvent(_Event):
    type: Literal["intervention.completed"]
    data: InterventionCompletedData


class CourseCompletedEvent(_Event):
    type: Literal["course.completed"]
    data: CourseCompletedData


class EngagementRefusedEvent(_Event):
    type: Literal["engagement.refused"]
    data: EngagementRefusedData


class ClosedByProviderEvent(_Event):
    type: Literal["case.closed_by_provider"]
    data: ClosedByProviderData


ProviderEvent = Annotated[
    Union[
        ReferralAcceptedEvent,
        ReferralRejectedEvent,
        ContactAttemptedEvent,
        AppointmentBookedEvent,
        AppointmentCancelledEvent,
        AppointmentAttendedEvent,
        AppointmentMissedEvent,
        AssessmentCompletedEvent,
        InterventionCompletedEvent,
        CourseCompletedEvent,
        EngagementRefusedEvent,
        ClosedByProviderEvent,
    ],
    Field(discriminator="type"),
]


def _data_models() -> dict[ProviderEventType, type[EventData]]:
    events = typing.get_args(typing.get_args(ProviderEvent)[0])
    return {
        ProviderEventType(typing.get_args(event.model_fields["type"].annotation)[0]): event.model_fields["data"].annotation
        for event in events
    }


# Each provider event type's data model, read off the union above (so it is never restated).
EVENT_DATA_MODELS: dict[ProviderEventType, type[EventData]] = _data_models()
assert set(EVENT_DATA_MODELS) == set(ProviderEventType), "every provider event type needs its model in ProviderEvent"


def free_text_fields(event_type: ProviderEventType) -> frozenset[str]:
    """The fields of the event's data a person writes (``text()``, not a code): what retention erases."""
    return frozenset(
        name for name, field in EVENT_DATA_MODELS[event_type].model_fields.items()
        if _WRITTEN in field.metadata or any(_WRITTEN in typing.get_args(arm)[1:] for arm in typing.get_args(field.annotation))
    )


def coded_reason(event_type: ProviderEventType) -> bool:
    """Whether the event's ``reason`` is one of the contract's codes (not free text that may hold health details)."""
    field = EVENT_DATA_MODELS[event_type].model_fields.get("reason")
    return field is not None and isinstance(field.annotation, type) and issubclass(field.annotation, StrEnum)


class ProviderEventReported(BaseModel):
    """A provider's signed event, passed on by the gateway for referral_api to record."""

    provider_id: uuid.UUID
    webhook_id: WebhookId
    received_at: datetime
    event: ProviderEvent


class CaseProjection(BaseModel):
    """What referral_api answers once it has recorded a provider's fact: the case after it.
    The gateway's mirror takes it as it takes a ``CaseStatusChanged`` (newer versions only)."""

    case_id: uuid.UUID
    status: CaseStatus
    version: int
    programme: ProgrammeSummary | None = None


# --- referral_api -> the police's, a court's and a YJU's own systems (signed webhooks) ---------


class BreachRule(StrEnum):
    """Why a breach request was raised."""

    missed_appointments = "missed_appointments"  # a second unacceptable missed appointment
    engagement_refused = "engagement_refused"
    no_contact = "no_contact"  # no successful contact after the attempts the rules ask for
    assessment_overdue = "assessment_overdue"
    completion_overdue = "completion_overdue"


class BreachStatus(StrEnum):
    pending_oic_review = "pending_oic_review"
    submitted = "submitted"
    acknowledged = "acknowledged"
    hearing_scheduled = "hearing_scheduled"
    outcome_recorded = "outcome_recorded"
    withdrawn = "withdrawn"


class BreachRequestTopic(StrEnum):
    submitted = "breach_request.submitted"  # to the court or YJU: the officer submitted it
    updated = "breach_request.updated"  # a later step, or a fact reported after its submission


class FactReported(BaseModel):
    """A provider's fact recorded after the request was submitted (and before it was closed):
    for the court or the YJU to weigh. Named by its kind, dates and appointment only."""

    fact: ProviderEventType
    occurred_at: datetime = Field(description="When it happened, by the provider's clock.")
    reported_at: datetime = Field(description="When we recorded it: after the request was submitted.")
    appointment_id: AppointmentId | None = None
    corrects_evidence: bool = Field(
        description="A later report about an appointment the request cites as evidence (an absence reported attended after all)."
    )


class BreachRequestLinks(BaseModel):
    breach_request: str = Field(description="Read the request with the receiver's own key.")
    case: str | None = Field(default=None, description="The police's only: the case.")


class BreachRequestChanged(BaseModel):
    """What a court's or a YJU's system is told of a request addressed to it: ids, status and a link.
    Nothing about the person; ``version`` grows with every change to what the receiver can read."""

    breach_request_id: uuid.UUID
    status: BreachStatus
    version: StrictInt = Field(ge=1)
    links: BreachRequestLinks
    fact_reported: FactReported | None = Field(default=None, description="Present when this message is about a late fact.")


class PoliceBreachRequestChanged(BreachRequestChanged):
    """What the referring force's system is told: the same, with its case and reference."""

    case_id: uuid.UUID
    police_reference: Code
    rule: BreachRule


class BreachRequestMessage(BaseModel):
    """The Standard Webhooks body of a breach request message. Absent fields are left out."""

    type: BreachRequestTopic
    timestamp: datetime
    data: PoliceBreachRequestChanged | BreachRequestChanged


# --- webhooks to outside systems (Standard Webhooks payloads: type, timestamp, data) -------
# Each message a provider or a police system is sent is built from one of these models, so
# its shape is stated once, here, and checked when it is made.


class _Webhook(BaseModel):
    timestamp: datetime = Field(description="When the message was made.")


class ReferralLinks(BaseModel):
    status: str = Field(description="Where the provider reads the case and its status.")


class ReferralCreatedData(ProviderReferral):
    links: ReferralLinks


class ReferralCreated(_Webhook):
    """A case routed to a provider: the referral, with what the provider needs and no more."""

    type: Literal["referral.created"] = "referral.created"
    data: ReferralCreatedData


class ReferralWithdrawnData(BaseModel):
    case_id: uuid.UUID
    reason: ReasonCode


class ReferralWithdrawn(_Webhook):
    """The provider that had the referral stops contacting the person."""

    type: Literal["referral.withdrawn"] = "referral.withdrawn"
    data: ReferralWithdrawnData


class CaseNoticeToProvider(_Webhook):
    """A warning or a deadline reminder, for the provider the case is with."""

    type: Literal["case.notice"] = "case.notice"
    data: CaseNotice


class CaseLinks(BaseModel):
    case: str = Field(description="Where the police system reads the case, with the force's key.")


class CaseStatusChangedData(BaseModel):
    """Thin on purpose: no personal data; a receiver that gets two out of order keeps the higher version."""

    case_id: uuid.UUID
    police_reference: str
    status: CaseStatus
    version: int
    links: CaseLinks


class CaseStatusChangedToPolice(_Webhook):
    type: Literal["case.status_changed"] = "case.status_changed"
    data: CaseStatusChangedData


class NoticeLinks(BaseModel):
    case: str = Field(description="Where the police system reads the case, with the force's key.")
    breach_request: str | None = Field(
        default=None, exclude_if=lambda link: link is None, description="For the officer's review of a request: the request (absent otherwise)."
    )


class PoliceCaseNoticeData(_Notice):
    """A warning or a deadline reminder, as the referring force's system is told it: ids, codes and dates."""

    police_reference: Code
    links: NoticeLinks


class CaseNoticeToPolice(_Webhook):
    type: Literal["case.notice"] = "case.notice"
    data: PoliceCaseNoticeData


def webhook_payload(message: _Webhook) -> dict[str, Any]:
    """The JSON a webhook model is sent as (and stored as until it is delivered). A notice
    carries only its kind's fields (a warning has no deadline, a reminder no appointment)."""
    return message.model_dump(mode="json", by_alias=True, exclude_none=isinstance(message, CaseNoticeToProvider))
