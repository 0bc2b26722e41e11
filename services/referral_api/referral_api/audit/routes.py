"""The administrator's read-only view of referral_api's audit log."""

from diversion_common.audit.routes import audit_admin_router
from diversion_common.auth import role_dependency
from diversion_common.credentials import Role
from referral_api.audit.tables import AuditCase, AuditRecord
from referral_api.clients.tables import Client
from referral_api.db import get_session

router = audit_admin_router(
    admin=role_dependency(Client, get_session, Role.admin),
    get_session=get_session,
    record_table=AuditRecord,
    case_table=AuditCase,
)
