"""who did it: every new fact and audit record names its actor (client, scheduler, operator)

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

TABLES = ('referral_case_facts', 'referral_audit_log')


def upgrade() -> None:
    # A plain ADD COLUMN, not a batch copy: on SQLite a copied table would lose the audit log's
    # append-only triggers. Rows written before stay null: who wrote them was not recorded.
    for table in TABLES:
        op.add_column(table, sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        op.drop_column(table, 'actor')
