"""an event receipt's refusal may be for now: a repeat of its webhook-id is tried again

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 21:50:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('gateway_provider_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refusal_retryable', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('gateway_provider_events', schema=None) as batch_op:
        batch_op.drop_column('refusal_retryable')
