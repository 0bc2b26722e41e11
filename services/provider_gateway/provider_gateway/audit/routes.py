"""The administrator's read-only view of the gateway's audit log."""

from diversion_common.audit.routes import audit_admin_router
from diversion_common.auth import role_dependency
from diversion_common.credentials import Role
from provider_gateway.audit.tables import AuditCase, AuditRecord
from provider_gateway.clients.tables import Client
from provider_gateway.db import get_session

router = audit_admin_router(
    admin=role_dependency(Client, get_session, Role.admin),
    get_session=get_session,
    record_table=AuditRecord,
    case_table=AuditCase,
)
