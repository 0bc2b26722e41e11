from diversion_common.messaging import InboxFields, OutboxFields
from referral_api.db import ReferralTable


class OutboxMessage(OutboxFields, ReferralTable, table=True):
    """Messages for the provider gateway, written in the transaction that causes them."""

    __tablename__ = "referral_outbox"


class InboxMessage(InboxFields, ReferralTable, table=True):
    """Ids of messages received from the gateway, so a repeat changes nothing."""

    __tablename__ = "referral_inbox"
