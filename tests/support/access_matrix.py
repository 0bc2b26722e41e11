"""Who may call what: every route of both services, and the callers each one lets through.

This is the access policy as intended, written once, as data. The test that holds the
services to it is tests/contract/test_route_role_matrix.py: it fails on a route the
services serve that has no row here (or a row for a route they no longer serve), and
asserts, for every row and every caller:

- a caller in ``allowed`` gets past authorisation: any answer but 401 or 403, and no
  5xx (with random ids and an empty ``{}`` body, a 404 or a 422 is the usual answer);
- a caller with no key, or with a well-formed key no client holds, gets 401 (the
  authentication gate answers before any route runs; the health paths alone take no key);
- a caller with a valid key of another role gets 403.

A new route needs a row here, stating who may call it. Where a route's behaviour departs
from the policy and the departure is known and reported, it goes in KNOWN_DEVIATIONS
with the answer the route gives today: the test then expects exactly that answer, and
fails once the route is fixed, so that the entry is removed and the policy holds again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum


class Caller(StrEnum):
    anonymous = "anonymous"  # no Authorization header at all
    wrong_key = "wrong_key"  # a well-formed key (dl_<uuid hex>_<secret>) that no client holds
    police = "police"  # a police system, of a force (FORCE)
    yju = "yju"  # a Youth Justice Unit, of a force (FORCE)
    court = "court"  # a magistrates' court's system, of a court (COURT)
    provider = "provider"  # a treatment provider's system, of a provider (a provider id)
    admin = "admin"  # an administrator of the service
    service = "service"  # the other service of this system, calling its peer's /internal/


CALLERS: tuple[Caller, ...] = tuple(Caller)
# The callers whose key is no client's: refused with 401 by the authentication gate.
UNAUTHENTICATED: frozenset[Caller] = frozenset({Caller.anonymous, Caller.wrong_key})
# The callers with a valid key, of one role each (diversion_common.credentials.Role).
KEYED: tuple[Caller, ...] = tuple(caller for caller in CALLERS if caller not in UNAUTHENTICATED)

FORCE = "thames-valley"
COURT = "reading-magistrates"

# The groups the policy is written in.
EVERYONE = frozenset(CALLERS)  # a public path: no key needed (the health paths)
POLICE = frozenset({Caller.police})
YJU = frozenset({Caller.yju})
COURT_ONLY = frozenset({Caller.court})
PROVIDER = frozenset({Caller.provider})
ADMIN = frozenset({Caller.admin})
SERVICE = frozenset({Caller.service})
# A breach request is seen by the force that raised it, the court (an adult's) or the YJU
# (a young person's) it is addressed to; never by a provider.
BREACH_PARTIES = frozenset({Caller.police, Caller.court, Caller.yju})
BREACH_ADDRESSEES = frozenset({Caller.court, Caller.yju})
# The reference lists (forces, districts, courts): every party of referral_api that names one.
REFERENCE_READERS = frozenset({Caller.police, Caller.yju, Caller.court, Caller.admin})

REFERRAL_API = "referral_api"
PROVIDER_GATEWAY = "provider_gateway"
SERVICES = (REFERRAL_API, PROVIDER_GATEWAY)


@dataclass(frozen=True)
class Row:
    service: str
    method: str
    path: str  # the path template, as the app declares it
    allowed: frozenset[Caller]

    @property
    def route(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.path)

    @property
    def label(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def _rows(service: str, allowed: frozenset[Caller], *operations: str) -> list[Row]:
    rows = []
    for operation in operations:
        method, path = operation.split(" ", 1)
        rows.append(Row(service, method, path, allowed))
    return rows


MATRIX: tuple[Row, ...] = (
    # --- referral_api --------------------------------------------------------------
    *_rows(REFERRAL_API, EVERYONE, "GET /health", "GET /health/live", "GET /health/ready"),
    # A police system refers people and follows its own force's cases.
    *_rows(
        REFERRAL_API, POLICE,
        "POST /v1/referrals",
        "GET /v1/referrals",
        "GET /v1/referrals/{case_id}",
        "GET /v1/referrals/{case_id}/timeline",
        "POST /v1/referrals/{case_id}/withdraw",
    ),
    # The YJU decides on the young people of its force's area.
    *_rows(
        REFERRAL_API, YJU,
        "GET /v1/yju/referrals",
        "GET /v1/yju/referrals/{case_id}",
        "POST /v1/yju/referrals/{case_id}/decision",
    ),
    # Breach requests: read by each party; the officer confirms or withdraws; the court or
    # the YJU acknowledges and records its outcome; only a court schedules a hearing.
    *_rows(REFERRAL_API, BREACH_PARTIES, "GET /v1/breach-requests", "GET /v1/breach-requests/{request_id}"),
    *_rows(REFERRAL_API, POLICE, "POST /v1/breach-requests/{request_id}/confirm", "POST /v1/breach-requests/{request_id}/withdraw"),
    *_rows(
        REFERRAL_API, BREACH_ADDRESSEES,
        "POST /v1/breach-requests/{request_id}/acknowledge",
        "POST /v1/breach-requests/{request_id}/outcome",
    ),
    *_rows(REFERRAL_API, COURT_ONLY, "POST /v1/breach-requests/{request_id}/hearing"),
    *_rows(REFERRAL_API, REFERENCE_READERS, "GET /v1/reference/forces", "GET /v1/reference/districts", "GET /v1/reference/courts"),
    # The gateway's relay delivers its messages here.
    *_rows(REFERRAL_API, SERVICE, "POST /internal/v1/messages", "POST /internal/v1/messages/batch"),
    # Administration: callbacks, deliveries, outbox, subject access, audit.
    *_rows(
        REFERRAL_API, ADMIN,
        "GET /v1/admin/messages",
        "PUT /v1/admin/police-callbacks/{force}",
        "GET /v1/admin/police-callbacks",
        "GET /v1/admin/police-callbacks/{force}",
        "POST /v1/admin/police-callbacks/{force}/secrets",
        "PUT /v1/admin/court-callbacks/{court}",
        "GET /v1/admin/court-callbacks",
        "GET /v1/admin/court-callbacks/{court}",
        "POST /v1/admin/court-callbacks/{court}/secrets",
        "PUT /v1/admin/yju-callbacks/{force}",
        "GET /v1/admin/yju-callbacks",
        "GET /v1/admin/yju-callbacks/{force}",
        "POST /v1/admin/yju-callbacks/{force}/secrets",
        "GET /v1/admin/deliveries",
        "GET /v1/admin/deliveries/{delivery_id}",
        "POST /v1/admin/deliveries/{delivery_id}/redeliver",
        "POST /v1/admin/subject-access",
        "GET /v1/admin/audit",
        "POST /v1/admin/reference/forces",
        "PATCH /v1/admin/reference/forces/{code}",
        "POST /v1/admin/reference/districts",
        "PATCH /v1/admin/reference/districts/{code}",
        "POST /v1/admin/reference/courts",
        "PATCH /v1/admin/reference/courts/{code}",
    ),
    # --- provider_gateway ----------------------------------------------------------
    *_rows(PROVIDER_GATEWAY, EVERYONE, "GET /health", "GET /health/live", "GET /health/ready"),
    # A provider reads and acknowledges the referrals routed to it, and reports on them.
    *_rows(
        PROVIDER_GATEWAY, PROVIDER,
        "GET /v1/provider/referrals",
        "GET /v1/provider/referrals/{case_id}",
        "POST /v1/provider/referrals/{case_id}/acknowledge",
        "POST /v1/provider/events",
        "GET /v1/provider/events/{webhook_id}",
    ),
    # referral_api's relay delivers its messages here.
    *_rows(PROVIDER_GATEWAY, SERVICE, "POST /internal/v1/messages", "POST /internal/v1/messages/batch"),
    *_rows(
        PROVIDER_GATEWAY, ADMIN,
        "POST /v1/admin/providers",
        "GET /v1/admin/providers",
        "GET /v1/admin/providers/{provider_id}",
        "PATCH /v1/admin/providers/{provider_id}",
        "POST /v1/admin/providers/{provider_id}/secrets",
        "GET /v1/admin/cases",
        "GET /v1/admin/cases/{case_id}/routing",
        "GET /v1/admin/deliveries",
        "GET /v1/admin/deliveries/{delivery_id}",
        "POST /v1/admin/deliveries/{delivery_id}/redeliver",
        "GET /v1/admin/provider-events",
        "GET /v1/admin/messages",
        "POST /v1/admin/subject-access",
        "GET /v1/admin/audit",
    ),
)


def _new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"  # as diversion_common.webhooks.service.new_delivery_id


# A syntactically valid value for each path parameter, by name (made afresh for each
# request: an id that names nothing is a 404 for a caller let through).
PATH_VALUES = {
    "case_id": lambda: str(uuid.uuid4()),
    "request_id": lambda: str(uuid.uuid4()),
    "provider_id": lambda: str(uuid.uuid4()),
    "force": lambda: FORCE,
    "court": lambda: COURT,
    "code": lambda: f"unknown-{uuid.uuid4().hex[:8]}",  # a reference code no force, district or court has: a 404
    "delivery_id": _new_message_id,
    "webhook_id": _new_message_id,
}

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
MINIMAL_BODY: dict[str, object] = {}


@dataclass(frozen=True)
class Deviation:
    status: int  # what the route answers today, with the matrix's request
    why: str
    # A body with which the same caller does get the policy's answer, if there is one.
    policy_body: dict[str, object] | None = None


# Known departures from the policy above, by (service, method, path, caller). Each is a
# finding to fix in the service; until then the test expects exactly this answer.
KNOWN_DEVIATIONS: dict[tuple[str, str, str, Caller], Deviation] = {}


def expected(row: Row, caller: Caller) -> int | None:
    """The status ``caller`` must get from ``row``'s route; None: anything but 401/403 and no 5xx."""
    if caller in row.allowed:
        return None
    return 401 if caller in UNAUTHENTICATED else 403
