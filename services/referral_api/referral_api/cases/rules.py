"""Intake rules that span fields: pure functions over a parsed referral.

Each rule answers with the JSON pointer of the offending field and a message
that names the rule, never the value.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from diversion_common.contracts import Pathway
from referral_api.lifecycle.pathway import age_on, encounter_date, pathway_for
from referral_api.cases.schemas import ContactMethod, ReferralCreate

MINIMUM_AGE = 10  # the age of criminal responsibility in England and Wales
MAXIMUM_AGE = 120

Violation = tuple[str, str]


def intake_violations(
    referral: ReferralCreate, *, force: str, district_force: str | None, now: datetime, clock_skew: timedelta
) -> list[Violation]:
    """``district_force``: the force of the encounter's district, None if it is no district in use
    (the service reads it from the reference data)."""
    violations: list[Violation] = []
    encounter_at = referral.encounter.occurred_at
    encounter_day = encounter_date(encounter_at)
    birth = referral.subject.date_of_birth

    if encounter_at > now + clock_skew:
        violations.append(("/encounter/occurred_at", "must not be in the future"))
    if district_force is None:
        violations.append(("/encounter/district", "is not a district in use (GET /v1/reference/districts)"))
    elif district_force != force:
        violations.append(("/encounter/district", "is not a district of the referring force"))
    if birth > now.date():
        violations.append(("/subject/date_of_birth", "must not be in the future"))
    elif birth > encounter_day:
        violations.append(("/subject/date_of_birth", "must be before the encounter"))
    else:
        age = age_on(birth, encounter_day)
        if age < MINIMUM_AGE:
            violations.append(("/subject/date_of_birth", f"the person must be at least {MINIMUM_AGE} on the encounter date"))
        elif age > MAXIMUM_AGE:
            violations.append(("/subject/date_of_birth", "is not a plausible date of birth"))

    checks = referral.checks
    for name in ("identity_confirmed", "pnc_checked", "niche_checked"):
        if not getattr(checks, name):
            violations.append((f"/checks/{name}", "must be true: the check must be done before referral"))
    if not referral.consent_to_share:
        violations.append(("/consent_to_share", "must be true: the person must consent to sharing with the treatment provider"))

    subject = referral.subject
    if subject.phone is None and subject.email is None:
        violations.append(("/subject/phone", "give a phone number or an email address"))
    method = subject.contact_preferences.preferred_method
    if method in (ContactMethod.phone, ContactMethod.sms) and subject.phone is None:
        violations.append(("/subject/contact_preferences/preferred_method", "needs a phone number"))
    if method is ContactMethod.email and subject.email is None:
        violations.append(("/subject/contact_preferences/preferred_method", "needs an email address"))

    if birth <= encounter_day:
        violations.extend(_pathway_violations(referral, pathway_for(birth, encounter_day)))
    return violations


def _pathway_violations(referral: ReferralCreate, pathway: Pathway) -> list[Violation]:
    if pathway is Pathway.adult_deferred_summons:
        if referral.body_worn_video_reference is None:
            return [("/body_worn_video_reference", "is required for adults")]
        return []
    violations = []
    if referral.guardian is None:
        violations.append(("/guardian", "a parent or guardian is required for under-18s"))
    elif referral.guardian.phone is None and referral.guardian.email is None:
        violations.append(("/guardian/phone", "give the guardian's phone number or email address"))
    if not referral.checks.guardian_contacted:
        violations.append(("/checks/guardian_contacted", "must be true for under-18s"))
    return violations
