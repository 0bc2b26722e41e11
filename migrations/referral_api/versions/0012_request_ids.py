"""the X-Request-ID of the call that caused each outbox message and police/court callback

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-08 10:00:00
"""
from typing import Sequence, Union

from diversion_common import migration_steps


revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    migration_steps.add_request_ids('referral')


def downgrade() -> None:
    migration_steps.drop_request_ids('referral')
