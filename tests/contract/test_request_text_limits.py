"""Every text a client can send is bounded and refuses NUL: a new field cannot forget it.

PostgreSQL cannot store a NUL character in text and refuses a value longer than its
varchar column; SQLite takes both, so what SQLite tests let through was a 500 on
PostgreSQL. The request models are where each limit lives. This walks every
operation of both services (body, query, path and header parameters; nested models,
unions and lists) and the payload of every internal message each service accepts,
down to each field that takes a string, and asserts of each that:

- the OpenAPI document states a ``maxLength`` for it, and
- a value that is valid, with any one of its characters replaced by NUL, is refused;
- so is one holding any other control character (C0, DEL, C1: issue 23), but for tab and
  line feed in multi-line free text (a note), whose document says so in its pattern.

A dict's keys are not fields and are not walked (its values are). No database is
opened: this is the models' own validation, the one the routes run.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import types
import typing
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from pydantic import AnyUrl, AwareDatetime, BaseModel, EmailStr, TypeAdapter, ValidationError

from diversion_common.contracts import MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN
from provider_gateway.main import create_app as create_gateway
from provider_gateway.messaging.handlers import HANDLERS as GATEWAY_HANDLERS
from referral_api.main import create_app as create_referral_api
from referral_api.messaging.handlers import HANDLERS as REFERRAL_API_HANDLERS

NUL = "\x00"
# Escape, carriage return, DEL, and C1's NEL and CSI: each refused in every text field.
CONTROL_CHARACTERS = ("\x1b", "\r", "\x7f", "\x85", "\x9b")
LINE_BREAKS = ("\n", "\t")  # allowed in multi-line free text only
# Types that hold no text: nothing to bound.
NOT_TEXT = (bool, int, float, decimal.Decimal, uuid.UUID, dt.datetime, AwareDatetime, dt.date, dt.time, dt.timedelta, bytes, type(None))


@dataclass(frozen=True)
class TextField:
    where: str  # e.g. "ReferralCreate.subject" or "referral_api GET /v1/referrals query cursor"
    annotation: Any  # the field's type with its constraints: what validates a string sent for it
    unknown: bool = False  # a type this walk does not know: the test fails until it is taught


def _text_fields(where: str, annotation: Any, metadata: list[Any], models: dict[type, None]) -> Iterator[TextField]:
    """The text fields in ``annotation``; the models it holds are added to ``models`` (walked once each)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        inner, *extra = typing.get_args(annotation)
        yield from _text_fields(where, inner, [*extra, *metadata], models)
    elif origin in (typing.Union, types.UnionType):
        # A field's constraints (Field(max_length=...)) apply to the member that can carry them.
        for member in typing.get_args(annotation):
            if member is not type(None):
                yield from _text_fields(where, member, metadata, models)
    elif origin in (list, set, frozenset, tuple):
        for item in typing.get_args(annotation):
            if item is not Ellipsis:
                yield from _text_fields(f"{where}[]", item, [], models)
    elif origin is dict:
        _, value = typing.get_args(annotation)
        yield from _text_fields(f"{where}{{}}", value, [], models)
    elif origin is typing.Literal or annotation is Any:
        return  # a fixed word; Any is a dict's free values, which a topic's own model parses
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        models.setdefault(annotation, None)
    elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return  # one of a few words
    elif annotation is str or annotation is EmailStr or (isinstance(annotation, type) and issubclass(annotation, AnyUrl)):
        yield TextField(where, Annotated[annotation, *metadata] if metadata else annotation)
    elif not (isinstance(annotation, type) and issubclass(annotation, NOT_TEXT)):
        yield TextField(where, annotation, unknown=True)


def _parameters(dependant: Dependant) -> Iterator[Any]:
    yield from (*dependant.path_params, *dependant.query_params, *dependant.header_params, *dependant.cookie_params, *dependant.body_params)
    for sub in dependant.dependencies:
        yield from _parameters(sub)


def _all_text_fields() -> list[TextField]:
    apps: dict[str, FastAPI] = {"referral_api": create_referral_api(), "provider_gateway": create_gateway()}
    inboxes = {"referral_api": REFERRAL_API_HANDLERS, "provider_gateway": GATEWAY_HANDLERS}
    models: dict[type, None] = {}
    fields: list[TextField] = []
    for service, app in apps.items():
        # Each operation as the app serves it (included routers' prefixes and dependencies applied).
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute):
                continue
            for method in sorted(route.methods):
                for parameter in _parameters(route.dependant):
                    info = parameter.field_info
                    where = f"{service} {method} {route.path} {type(info).__name__.lower()} {parameter.alias}"
                    fields.extend(_text_fields(where, info.annotation, list(info.metadata), models))
        for handler in inboxes[service].values():
            models.setdefault(handler.payload, None)
    walked: set[type] = set()
    while len(walked) < len(models):
        model = next(m for m in models if m not in walked)
        walked.add(model)
        for name, info in model.model_fields.items():
            fields.extend(_text_fields(f"{model.__name__}.{name}", info.annotation, list(info.metadata), models))
    return fields


TEXT_FIELDS = _all_text_fields()


# Values the scheme's own fields take (codes, references, phone numbers, postcodes): tried before a
# search, which can take seconds to stumble on a code a pattern or validator wants.
LIKELY_VALUES = (
    "abc", "thames-valley", "reading", "reading-magistrates", "court:reading-magistrates", "TV4521",
    "TVP/2026/000123", "+44 118 496 0000", "RG1 1AA", "appt-1", "adult_deferred_summons",
)
_samples: dict[str, str] = {}


def _valid_sample(field: TextField, schema: dict[str, Any]) -> str:
    if field.where not in _samples:  # both tests of a field want the same one
        _samples[field.where] = _find_valid_sample(field, schema)
    return _samples[field.where]


def _find_valid_sample(field: TextField, schema: dict[str, Any]) -> str:
    adapter = TypeAdapter(field.annotation)

    def accepted(value: str) -> bool:
        try:
            adapter.validate_python(value)
        except ValidationError:
            return False
        return True

    if schema.get("format") == "email":
        sample = "someone@service.example"
    elif schema.get("format") == "uri":
        sample = "https://service.example/hooks"
    elif likely := next((value for value in LIKELY_VALUES if accepted(value)), None):
        sample = likely
    elif "pattern" in schema:
        # The simplest string the pattern and the other constraints take.
        sample = find(
            st.from_regex(schema["pattern"], fullmatch=True),
            accepted,
            settings=settings(database=None, derandomize=True, max_examples=2000, suppress_health_check=list(HealthCheck)),
        )
    else:
        sample = "abc"[: schema.get("maxLength", 3)].ljust(schema.get("minLength", 1), "x")
    assert accepted(sample), f"{field.where}: the test's sample {sample!r} is refused; give it a valid one"
    return sample


@pytest.mark.parametrize("field", TEXT_FIELDS, ids=[f.where for f in TEXT_FIELDS])
def test_every_text_field_is_bounded_and_refuses_nul(field: TextField) -> None:
    assert not field.unknown, f"{field.where}: what is {field.annotation!r}? If it holds text, teach this test"
    schema = TypeAdapter(field.annotation).json_schema()
    assert "maxLength" in schema, f"{field.where} has no maxLength: bound it (the column's length, if it fills one)"

    sample = _valid_sample(field, schema)
    adapter = TypeAdapter(field.annotation)
    for position in range(len(sample)):
        with_nul = sample[:position] + NUL + sample[position + 1 :]
        with pytest.raises(ValidationError):
            adapter.validate_python(with_nul)


def test_the_walk_reaches_the_fields_that_were_500s() -> None:
    # If the walk lost its way (a FastAPI upgrade, a renamed attribute) it would find nothing to check.
    found = {f.where for f in TEXT_FIELDS}
    for expected in (
        "WithdrawRequest.note",
        "DecisionRequest.note",
        "ProviderCreate.name",
        "ProviderCreate.webhook_url",
        "ProviderUpdate.webhook_url",
        "PoliceCallbackSet.url",
        "MessageEnvelope.topic",
        "ProviderReferral.force",
        "ReferralSubject.given_name",
        "CaseStatusChanged.reason",
        "ProgrammeSummary.required[]",
        "AppointmentMissedData.note",
        "referral_api GET /v1/referrals query cursor",
        "referral_api POST /v1/referrals header Idempotency-Key",
        "referral_api GET /v1/admin/deliveries/{delivery_id} path delivery_id",
        "provider_gateway GET /v1/provider/events/{webhook_id} path webhook_id",
    ):
        assert expected in found, expected


@pytest.mark.parametrize("field", TEXT_FIELDS, ids=[f.where for f in TEXT_FIELDS])
def test_every_text_field_refuses_control_characters(field: TextField) -> None:
    schema = TypeAdapter(field.annotation).json_schema()
    adapter = TypeAdapter(field.annotation)
    sample = _valid_sample(field, schema)
    multiline = schema.get("pattern") == MULTI_LINE_PATTERN
    refused = CONTROL_CHARACTERS if multiline else CONTROL_CHARACTERS + LINE_BREAKS
    for character in refused:
        # At the end too: a trailing line feed must not be trimmed into acceptance.
        for with_control in (character + sample[1:], sample[:-1] + character, sample + character):
            if len(with_control) > schema.get("maxLength", len(with_control)):
                continue
            with pytest.raises(ValidationError):
                adapter.validate_python(with_control)
    if multiline:
        assert adapter.validate_python(f"{sample}\n\tand a second line") is not None


def test_free_text_notes_are_multi_line_and_names_are_not() -> None:
    patterns = {f.where: TypeAdapter(f.annotation).json_schema().get("pattern") for f in TEXT_FIELDS}
    assert patterns["AppointmentMissedData.note"] == MULTI_LINE_PATTERN
    assert patterns["WithdrawRequest.note"] == MULTI_LINE_PATTERN
    assert patterns["ProviderCreate.name"] == SINGLE_LINE_PATTERN
    assert patterns["ReferralSubject.given_name"] == SINGLE_LINE_PATTERN
