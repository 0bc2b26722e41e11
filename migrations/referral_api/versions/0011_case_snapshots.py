"""case snapshots: each case's folded state stored beside it, backfilled by refolding each log;
an index for the timeline's pages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:30:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'referral_case_snapshots',
        sa.Column('case_id', sa.Uuid(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('format', sa.Integer(), nullable=False),
        sa.Column('state', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['referral_cases.id']),
        sa.PrimaryKeyConstraint('case_id'),
    )
    with op.batch_alter_table('referral_case_facts', schema=None) as batch_op:
        batch_op.create_index('ix_referral_case_facts_case_occurred', ['case_id', 'occurred_at', 'seq'], unique=False)
    _backfill()


def _backfill() -> None:
    """Every existing case refolded from its whole log, once. Plain tables, not the models: the
    models may have moved on by the time this runs. (A case the backfill misses, or whose
    snapshot is of an older shape, is rebuilt when next read: case_log.service.snapshot_of.)"""
    from diversion_common.database import as_utc
    from referral_api.lifecycle.facts import Fact
    from referral_api.lifecycle.fold import fold_snapshot
    from referral_api.lifecycle.snapshots import FORMAT, snapshot_to_json

    facts = sa.table(
        'referral_case_facts', sa.column('case_id', sa.Uuid()), sa.column('seq', sa.Integer()), sa.column('kind', sa.String()),
        sa.column('occurred_at', sa.DateTime(timezone=True)), sa.column('recorded_at', sa.DateTime(timezone=True)),
        sa.column('source', sa.String()), sa.column('source_id', sa.String()), sa.column('data', sa.JSON()),
    )
    snapshots = sa.table(
        'referral_case_snapshots', sa.column('case_id', sa.Uuid()), sa.column('version', sa.Integer()),
        sa.column('format', sa.Integer()), sa.column('state', sa.JSON()),
    )
    bind = op.get_bind()
    case_ids = list(bind.execute(sa.select(facts.c.case_id).distinct()).scalars())
    for case_id in case_ids:
        rows = bind.execute(sa.select(facts).where(facts.c.case_id == case_id).order_by(facts.c.seq)).mappings()
        snapshot = fold_snapshot(
            Fact(kind=row['kind'], occurred_at=as_utc(row['occurred_at']), seq=row['seq'], source=row['source'],
                 source_id=row['source_id'], data=row['data'], recorded_at=as_utc(row['recorded_at']))
            for row in rows
        )
        bind.execute(sa.insert(snapshots).values(
            case_id=case_id, version=snapshot.version, format=FORMAT, state=snapshot_to_json(snapshot),
        ))


def downgrade() -> None:
    with op.batch_alter_table('referral_case_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_case_facts_case_occurred')
    op.drop_table('referral_case_snapshots')
