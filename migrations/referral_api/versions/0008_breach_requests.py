"""breach requests: a row per request, projected from the breach facts on the case log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 12:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'referral_breach_requests',
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('case_id', sa.Uuid(), nullable=False),
        sa.Column('force', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('addressee', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('court', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True),
        sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('review_due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['referral_cases.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('referral_breach_requests', schema=None) as batch_op:
        batch_op.create_index('ix_referral_breach_requests_case_id', ['case_id'], unique=False)
        batch_op.create_index('ix_referral_breach_requests_status', ['status'], unique=False)
        batch_op.create_index('ix_referral_breach_requests_court', ['court', 'submitted_at', 'id'], unique=False)
        batch_op.create_index('ix_referral_breach_requests_force', ['force', 'addressee', 'submitted_at', 'id'], unique=False)


def downgrade() -> None:
    op.drop_table('referral_breach_requests')
