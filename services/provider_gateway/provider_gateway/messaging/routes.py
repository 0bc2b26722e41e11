"""The internal inbox: messages from referral_api."""

from diversion_common.auth import role_dependency
from diversion_common.credentials import Role
from diversion_common.inbox_routes import inbox_router
from diversion_common.outbox_routes import outbox_admin_router
from provider_gateway.clients.tables import Client
from provider_gateway.db import get_session
from provider_gateway.messaging.handlers import HANDLERS
from provider_gateway.messaging.tables import InboxMessage, OutboxMessage

router = inbox_router(
    sender="referral_api",
    caller=role_dependency(Client, get_session, Role.service),
    get_session=get_session,
    inbox_table=InboxMessage,
    handlers=HANDLERS,
)

admin_router = outbox_admin_router(
    peer="referral_api",
    admin=role_dependency(Client, get_session, Role.admin),
    get_session=get_session,
    outbox_table=OutboxMessage,
)
