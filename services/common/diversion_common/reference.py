"""Reference data's codes (docs/DOMAIN.md, "Reference data").

The forces, districts and courts themselves are data, not code: referral_api owns them
(its referral_forces, referral_districts and referral_courts tables, seeded with the
scheme's defaults by its migration 0013, managed through /v1/admin/reference/... and
`diversion-link reference ...`, read by clients at GET /v1/reference/...); the gateway keeps
a copy of the districts it routes by (docs/ARCHITECTURE.md, "Reference data"). Here only
what a code looks like, so that both services and the contract check it the same way.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, StringConstraints

REFERENCE_CODE_LENGTH = 60  # the force, district and court columns
REFERENCE_CODE_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_REFERENCE_CODE = re.compile(REFERENCE_CODE_PATTERN)


_CODE_SHAPE = StringConstraints(min_length=1, max_length=REFERENCE_CODE_LENGTH, pattern=REFERENCE_CODE_PATTERN)

ForceCode = Annotated[str, _CODE_SHAPE, Field(description="A force's code, one of GET /v1/reference/forces (e.g. thames-valley).")]
DistrictCode = Annotated[str, _CODE_SHAPE, Field(description="A district's code, one of GET /v1/reference/districts (e.g. reading).")]
CourtCode = Annotated[
    str, _CODE_SHAPE, Field(description="A magistrates' court's code, one of GET /v1/reference/courts (e.g. reading-magistrates).")
]


def is_reference_code(text: str) -> bool:
    """Whether ``text`` has a reference code's shape (lower-case words joined by hyphens)."""
    return len(text) <= REFERENCE_CODE_LENGTH and _REFERENCE_CODE.fullmatch(text) is not None
