from diversion_common.messaging import InboxFields, OutboxFields
from provider_gateway.db import GatewayTable


class OutboxMessage(OutboxFields, GatewayTable, table=True):
    """Messages for referral_api, written in the transaction that causes them."""

    __tablename__ = "gateway_outbox"


class InboxMessage(InboxFields, GatewayTable, table=True):
    """Ids of messages received from referral_api, so a repeat changes nothing."""

    __tablename__ = "gateway_inbox"
