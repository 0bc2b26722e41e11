"""indexes for every breach request listing in its page's order, with and without the status
filter (the police's by raising, the court's and the YJU's by receipt): with years of requests a
filtered page no longer filters and sorts every request of its court or force

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 08:00:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0014'
down_revision: Union[str, None] = '0013'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = {
    'ix_referral_breach_requests_court_status': ['court', 'status', 'submitted_at', 'id'],
    'ix_referral_breach_requests_force_status': ['force', 'addressee', 'status', 'submitted_at', 'id'],
    'ix_referral_breach_requests_raised': ['force', 'raised_at', 'id'],
    'ix_referral_breach_requests_raised_status': ['force', 'status', 'raised_at', 'id'],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, 'referral_breach_requests', columns, unique=False)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name='referral_breach_requests')
