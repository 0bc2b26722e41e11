"""The settings that bound abuse, the same for both services (each reads them under its own prefix)."""

from __future__ import annotations

from pydantic import Field, field_validator

from diversion_common.rate_limits import parse_rate_limit
from diversion_common.settings import ServiceSettings


class AbuseLimitSettings(ServiceSettings):
    # Real clients are far below these (a force refers a few dozen people a day; a provider
    # polls every few seconds; the relay sends batches of 100): they stop floods and runaway
    # loops, not work. Several clients may share an address (a force's or a supplier's egress),
    # hence the larger per-address figure. The benchmarks and end-to-end tests set their own.
    rate_limit_per_client: str = "1200/minute"
    rate_limit_per_address: str = "3000/minute"
    # Wrong keys from one address before it is refused (429) without a look-up, until the
    # oldest of them is older than the window. Keys are 256 random bits: this is about load
    # and noise, not guessing.
    rate_limit_failed_auth: str = "20/5 minutes"
    # A request's head must arrive within this of its first byte (of the connection, for the
    # first request); then the connection is closed. uvicorn has no such limit of its own.
    header_read_timeout_seconds: float = Field(default=10.0, gt=0)
    # Its body within this of the headers; else 408 and the connection is closed.
    body_read_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator("rate_limit_per_client", "rate_limit_per_address", "rate_limit_failed_auth")
    @classmethod
    def _a_rate_limit(cls, value: str) -> str:
        parse_rate_limit(value)  # a wrong spelling stops the service at start, not at the first request
        return value
