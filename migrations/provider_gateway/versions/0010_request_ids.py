"""the X-Request-ID of the call that caused each outbox message and provider webhook

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00
"""
from typing import Sequence, Union

from diversion_common import migration_steps


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    migration_steps.add_request_ids('gateway')


def downgrade() -> None:
    migration_steps.drop_request_ids('gateway')
