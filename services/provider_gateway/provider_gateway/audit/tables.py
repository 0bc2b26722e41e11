"""The gateway's audit log: every call, and the cases each touched (append-only)."""

from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from provider_gateway.db import GatewayTable


class AuditRecord(AuditRecordFields, GatewayTable, table=True):
    __tablename__ = "gateway_audit_log"


class AuditCase(AuditCaseFields, GatewayTable, table=True):
    __tablename__ = "gateway_audit_cases"
