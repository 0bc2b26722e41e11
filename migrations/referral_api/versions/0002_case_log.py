"""the case log: facts per case; the case row becomes its projection (version, next deadline); refused outbox messages

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 07:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0002'
down_revision: Union[str, None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('referral_case_facts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('source_id', sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
    sa.Column('actor_client_id', sa.Uuid(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['referral_cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'seq', name='uq_referral_case_facts_case_seq'),
    sa.UniqueConstraint('source', 'source_id', name='uq_referral_case_facts_source')
    )
    with op.batch_alter_table('referral_case_facts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_case_facts_case_id'), ['case_id'], unique=False)

    # The status history was the old record of a case; the log replaces it (no system holds real cases yet).
    with op.batch_alter_table('referral_case_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_case_history_case_id'))
    op.drop_table('referral_case_history')

    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('next_deadline_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_cases_next_deadline_at'), ['next_deadline_at'], unique=False)

    with op.batch_alter_table('referral_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('referral_outbox', schema=None) as batch_op:
        batch_op.drop_column('refused_at')

    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_cases_next_deadline_at'))
        batch_op.drop_column('next_deadline_at')
        batch_op.drop_column('version')

    op.create_table('referral_case_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('to_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('event', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('actor_client_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['referral_cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('referral_case_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_case_history_case_id'), ['case_id'], unique=False)

    with op.batch_alter_table('referral_case_facts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_case_facts_case_id'))
    op.drop_table('referral_case_facts')
