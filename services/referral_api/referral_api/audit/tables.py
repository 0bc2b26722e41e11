"""referral_api's audit log: every call, and the cases each touched (append-only)."""

from diversion_common.audit.tables import AuditCaseFields, AuditRecordFields
from referral_api.db import ReferralTable


class AuditRecord(AuditRecordFields, ReferralTable, table=True):
    __tablename__ = "referral_audit_log"


class AuditCase(AuditCaseFields, ReferralTable, table=True):
    __tablename__ = "referral_audit_cases"
