"""Shapes both services' admin APIs share: attempts, secret rotation."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictFloat


class AttemptPublic(BaseModel):
    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    outcome: str


class SecretRotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strict: a lax float would take `false` or "3" for a number.
    overlap_hours: StrictFloat = Field(
        default=24.0, ge=0, le=24 * 14, description="How long the secrets in force now stay valid beside the new one."
    )


class RotatedSecret(BaseModel):
    signing_secret: str = Field(description="The new secret, shown once.")
    previous_valid_until: datetime
