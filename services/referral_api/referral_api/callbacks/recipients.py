"""Who receives signed webhooks from referral_api, and the key each is stored under.

A force's system is keyed by its force code (as before there were others); a court's
system by ``court:<court code>``; a YJU's system by ``yju:<force code>``, the area it
serves. One key space lets every receiver share the callback, secret, delivery and
circuit tables and the one delivery worker. Pure: no I/O.
"""

from __future__ import annotations

from diversion_common.roles import Role
from diversion_common.vocabulary import enum_of

# The parties that receive our webhooks: those of the roles that have a system of their own.
RecipientKind = enum_of("RecipientKind", Role.police, Role.court, Role.yju, module=__name__)


def police_recipient(force: str) -> str:
    return force


def court_recipient(court: str) -> str:
    return f"{RecipientKind.court.value}:{court}"


def yju_recipient(force: str) -> str:
    return f"{RecipientKind.yju.value}:{force}"


def recipient_kind(recipient: str) -> RecipientKind:
    prefix, separator, _ = recipient.partition(":")
    return RecipientKind(prefix) if separator else RecipientKind.police
