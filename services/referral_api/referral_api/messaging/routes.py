"""The internal inbox: messages from the provider gateway."""

from diversion_common.auth import role_dependency
from diversion_common.credentials import Role
from diversion_common.inbox_routes import inbox_router
from diversion_common.outbox_routes import outbox_admin_router
from referral_api.clients.tables import Client
from referral_api.db import get_session
from referral_api.messaging.handlers import HANDLERS
from referral_api.messaging.tables import InboxMessage, OutboxMessage

router = inbox_router(
    sender="the provider gateway",
    caller=role_dependency(Client, get_session, Role.service),
    get_session=get_session,
    inbox_table=InboxMessage,
    handlers=HANDLERS,
)

admin_router = outbox_admin_router(
    peer="the provider gateway",
    admin=role_dependency(Client, get_session, Role.admin),
    get_session=get_session,
    outbox_table=OutboxMessage,
)
