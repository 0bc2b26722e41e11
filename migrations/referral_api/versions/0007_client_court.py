"""a court client's court: it sees only that court's breach requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""
from typing import Sequence, Union

from diversion_common import migration_steps


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    migration_steps.add_client_court('referral_clients')


def downgrade() -> None:
    migration_steps.drop_client_court('referral_clients')
