"""a court client's court: it sees only that court's breach requests

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('gateway_clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('court', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('gateway_clients', schema=None) as batch_op:
        batch_op.drop_column('court')
