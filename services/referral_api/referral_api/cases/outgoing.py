"""The routing request referral_api sends the provider gateway about a case.

It carries only what a treatment provider needs to contact and treat the person:
no PNC or Niche detail, no officer, no body-worn video, no ethnicity.
"""

from __future__ import annotations

from diversion_common.contracts import ProviderReferral, Topic
from diversion_common.database import as_utc
from referral_api.cases.tables import Case
from referral_api.lifecycle.pathway import encounter_date
from referral_api.messaging.tables import OutboxMessage


def provider_view(case: Case) -> ProviderReferral:
    referral = case.referral
    return ProviderReferral.model_validate(
        {
            "case_id": case.id,
            "pathway": case.pathway,
            "district": case.district,
            "force": case.force,
            "encounter_date": encounter_date(as_utc(case.encounter_at)),
            "drugs": referral["drugs"],
            "subject": {key: value for key, value in referral["subject"].items() if key != "ethnicity"},
            "guardian": referral.get("guardian"),
            "out_of_hours_appointments": case.out_of_hours_wanted,
        }
    )


def routing_requested(case: Case) -> OutboxMessage:
    return OutboxMessage(
        topic=Topic.routing_requested.value, aggregate_id=case.id, payload=provider_view(case).model_dump(mode="json", by_alias=True)
    )
