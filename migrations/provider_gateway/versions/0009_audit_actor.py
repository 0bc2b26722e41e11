"""who did it: every new audit record names its actor (client, operator)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 21:45:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite a copied table would lose its append-only triggers.
    op.add_column('gateway_audit_log', sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))


def downgrade() -> None:
    op.drop_column('gateway_audit_log', 'actor')
