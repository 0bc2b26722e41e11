"""Who a client is: the role its credential carries (no framework, so anything may import it)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    police = "police"
    yju = "yju"
    court = "court"
    provider = "provider"
    admin = "admin"
    service = "service"  # the other service of this system, calling an internal endpoint
