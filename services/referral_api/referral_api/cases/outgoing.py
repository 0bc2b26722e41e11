"""Messages referral_api sends the provider gateway about a case.

The routing request carries only what a treatment provider needs to contact and
treat the person: no PNC or Niche detail, no officer, no body-worn video.
"""

from __future__ import annotations

from diversion_common.database import as_utc
from referral_api.cases.lifecycle import encounter_date
from referral_api.cases.tables import Case
from referral_api.messaging.tables import OutboxMessage

ROUTING_REQUESTED = "case.routing_requested"
WITHDRAWN = "case.withdrawn"


def provider_view(case: Case) -> dict:
    referral = case.referral
    subject = referral["subject"]
    return {
        "case_id": str(case.id),
        "pathway": case.pathway,
        "district": case.district,
        "force": case.force,
        "encounter_date": encounter_date(as_utc(case.encounter_at)).isoformat(),
        "drugs": referral["drugs"],
        "subject": {
            key: subject.get(key)
            for key in ("given_name", "family_name", "date_of_birth", "sex", "address", "phone", "email", "contact_preferences")
        },
        "guardian": referral.get("guardian"),
        "out_of_hours_appointments": case.out_of_hours_wanted,
    }


def routing_requested(case: Case) -> OutboxMessage:
    return OutboxMessage(topic=ROUTING_REQUESTED, aggregate_id=case.id, payload=provider_view(case))


def withdrawn_notice(case: Case, reason: str) -> OutboxMessage:
    return OutboxMessage(topic=WITHDRAWN, aggregate_id=case.id, payload={"case_id": str(case.id), "reason": reason})
