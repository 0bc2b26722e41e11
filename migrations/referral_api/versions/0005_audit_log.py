"""the audit log: every call, by whom, on which cases (append-only)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""
from typing import Sequence, Union

from diversion_common import migration_steps


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    migration_steps.create_audit_log('referral')


def downgrade() -> None:
    migration_steps.drop_audit_log('referral')
