"""Request fields that are text but not plain text: URLs, e-mail addresses, delivery ids.

PostgreSQL cannot store a NUL character in text and refuses a value longer than
its varchar column; SQLite takes both. So every request field states its limit,
and refuses NUL and every other control character, in the request model (a 422 naming the field, alike on either
database), from the same constant as the column it fills. Plain text is
``contracts.text`` (trimmed) or ``contracts.code`` (kept as sent);
tests/contract/test_request_text_limits.py checks every field of every request.

The lengths a request field and a column share, each defined once:
  contracts: EMAIL_LENGTH (a provider's contact_email), and what the services pass each other
  webhooks/tables: DELIVERY_ID_LENGTH, ENDPOINT_URL_LENGTH (a webhook_url, a callback url)
  messaging: TOPIC_LENGTH
  referral_api cases/tables: POLICE_REFERENCE_LENGTH, IDEMPOTENCY_KEY_LENGTH
  provider_gateway providers/tables: PROVIDER_NAME_LENGTH
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, EmailStr, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from diversion_common.contracts import EMAIL_LENGTH, NoControlCharacters, code, control_character
from diversion_common.webhooks.tables import DELIVERY_ID_LENGTH
from diversion_common.webhooks.urls import WebhookUrl


def _too_long(max_length: int) -> PydanticCustomError:
    return PydanticCustomError("string_too_long", "String should have at most {max_length} characters", {"max_length": max_length})


def _sent_url_fits(max_length: int) -> Any:
    def check(value: Any) -> Any:
        if isinstance(value, str):
            # The URL parser would percent-encode a NUL or an escape (%00, %1B), or drop a line feed:
            # refuse them as every other field does.
            found = control_character(value)
            if found is not None:
                raise ValueError(f"must not contain control characters such as U+{ord(found):04X}")
            if len(value) > max_length:
                raise _too_long(max_length)
        return value

    return BeforeValidator(check)


def _stored_url_fits(max_length: int) -> Any:
    def check(url: Any) -> Any:
        # What is stored is the normalised URL, which can be longer than what was sent
        # (a space becomes %20, a non-ASCII host its punycode).
        if url is not None and len(str(url)) > max_length:
            raise _too_long(max_length)
        return url

    return AfterValidator(check)


@dataclass(frozen=True)
class _DocumentedMaxLength:
    """Says ``maxLength`` in the document, for a type whose own constraint cannot (a URL with validators)."""

    max_length: int

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {**handler(schema), "maxLength": self.max_length}


def bounded_url(max_length: int) -> Any:
    """A webhook URL (diversion_common.webhooks.urls) whose stored form fits ``max_length``."""
    return Annotated[WebhookUrl, _sent_url_fits(max_length), _stored_url_fits(max_length), _DocumentedMaxLength(max_length)]


# email-validator refuses NUL, and anything over 254 characters; the limit says so in the document.
# A trailing line feed it would trim away is refused first.
Email = Annotated[EmailStr, Field(max_length=EMAIL_LENGTH), NoControlCharacters]

# The webhook-id of one of our deliveries, as a path parameter.
DeliveryId = code(DELIVERY_ID_LENGTH)
