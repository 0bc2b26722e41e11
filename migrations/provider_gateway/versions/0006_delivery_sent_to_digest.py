"""where each delivery was last sent: the SHA-256 of the URL, so a redelivery goes only there

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""
from typing import Sequence, Union

from diversion_common import migration_steps


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    migration_steps.add_sent_to_digest('gateway_deliveries')


def downgrade() -> None:
    migration_steps.drop_sent_to_digest('gateway_deliveries')
