"""where each delivery was last sent: the SHA-256 of the URL, so a redelivery goes only there

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # Left empty for deliveries made before: where they went is unknown, so none is redelivered
    # (diversion_common/webhooks/addressing.py); those still pending are sent as before.
    with op.batch_alter_table('referral_deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sent_to_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('referral_deliveries', schema=None) as batch_op:
        batch_op.drop_column('sent_to_sha256')
