"""reference data as data: forces, districts (their force, population and court) and magistrates'
courts, seeded with the scheme's defaults (until now compiled into diversion_common/reference.py
and referral_api/breaches/courts.py; docs/DOMAIN.md lists them)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-09 10:00:00
"""
from datetime import datetime, timezone
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0013'
down_revision: Union[str, None] = '0012'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FORCES = [
    ('thames-valley', 'Thames Valley Police'),
    ('hampshire', 'Hampshire Constabulary'),
]
COURTS = [
    ('reading-magistrates', "Reading Magistrates' Court"),
    ('slough-magistrates', "Slough Magistrates' Court"),
    ('milton-keynes-magistrates', "Milton Keynes Magistrates' Court"),
    ('high-wycombe-magistrates', "High Wycombe Magistrates' Court"),
    ('oxford-magistrates', "Oxford Magistrates' Court"),
    ('portsmouth-magistrates', "Portsmouth Magistrates' Court"),
    ('southampton-magistrates', "Southampton Magistrates' Court"),
    ('basingstoke-magistrates', "Basingstoke Magistrates' Court"),
]
# code, name, force, population, court
DISTRICTS = [
    ('reading', 'Reading', 'thames-valley', 163203, 'reading-magistrates'),
    ('milton-keynes', 'Milton Keynes', 'thames-valley', 268607, 'milton-keynes-magistrates'),
    ('oxford', 'Oxford', 'thames-valley', 154327, 'oxford-magistrates'),
    ('wycombe', 'Wycombe', 'thames-valley', 174641, 'high-wycombe-magistrates'),
    ('west-berkshire', 'West Berkshire', 'thames-valley', 158527, 'reading-magistrates'),
    ('vale-of-white-horse', 'Vale of White Horse', 'thames-valley', 133732, 'oxford-magistrates'),
    ('west-oxfordshire', 'West Oxfordshire', 'thames-valley', 109800, 'oxford-magistrates'),
    ('slough', 'Slough', 'thames-valley', 149112, 'slough-magistrates'),
    ('cherwell', 'Cherwell', 'thames-valley', 149161, 'oxford-magistrates'),
    ('south-oxfordshire', 'South Oxfordshire', 'thames-valley', 140504, 'oxford-magistrates'),
    ('aylesbury-vale', 'Aylesbury Vale', 'thames-valley', 199448, 'high-wycombe-magistrates'),
    ('bracknell-forest', 'Bracknell Forest', 'thames-valley', 121676, 'reading-magistrates'),
    ('south-bucks', 'South Bucks', 'thames-valley', 70043, 'slough-magistrates'),
    ('windsor-and-maidenhead', 'Windsor & Maidenhead', 'thames-valley', 150906, 'slough-magistrates'),
    ('chiltern', 'Chiltern', 'thames-valley', 95927, 'high-wycombe-magistrates'),
    ('wokingham', 'Wokingham', 'thames-valley', 167979, 'reading-magistrates'),
    ('portsmouth', 'Portsmouth', 'hampshire', 215133, 'portsmouth-magistrates'),
    ('southampton', 'Southampton', 'hampshire', 252796, 'southampton-magistrates'),
    ('winchester', 'Winchester', 'hampshire', 124295, 'southampton-magistrates'),
    ('havant', 'Havant', 'hampshire', 125813, 'portsmouth-magistrates'),
    ('fareham', 'Fareham', 'hampshire', 116339, 'portsmouth-magistrates'),
    ('gosport', 'Gosport', 'hampshire', 85283, 'portsmouth-magistrates'),
    ('basingstoke-and-deane', 'Basingstoke & Deane', 'hampshire', 175729, 'basingstoke-magistrates'),
    ('eastleigh', 'Eastleigh', 'hampshire', 131819, 'southampton-magistrates'),
    ('test-valley', 'Test Valley', 'hampshire', 125169, 'southampton-magistrates'),
    ('east-hampshire', 'East Hampshire', 'hampshire', 120681, 'portsmouth-magistrates'),
    ('new-forest', 'New Forest', 'hampshire', 179753, 'southampton-magistrates'),
    ('hart', 'Hart', 'hampshire', 96293, 'basingstoke-magistrates'),
    ('rushmoor', 'Rushmoor', 'hampshire', 63215, 'basingstoke-magistrates'),
]


def _code() -> sa.Column:
    return sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False)


def _name() -> sa.Column:
    return sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False)


def _dates() -> list[sa.Column]:
    return [
        sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    forces = op.create_table('referral_forces', _code(), _name(), *_dates(), sa.PrimaryKeyConstraint('code'))
    courts = op.create_table('referral_courts', _code(), _name(), *_dates(), sa.PrimaryKeyConstraint('code'))
    districts = op.create_table(
        'referral_districts',
        _code(),
        _name(),
        sa.Column('force', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('population', sa.Integer(), nullable=False),
        sa.Column('court', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        *_dates(),
        sa.ForeignKeyConstraint(['force'], ['referral_forces.code']),
        sa.ForeignKeyConstraint(['court'], ['referral_courts.code']),
        sa.PrimaryKeyConstraint('code'),
    )
    with op.batch_alter_table('referral_districts', schema=None) as batch_op:
        batch_op.create_index('ix_referral_districts_force', ['force'], unique=False)
    now = datetime.now(timezone.utc)
    op.bulk_insert(forces, [{'code': code, 'name': name, 'updated_at': now} for code, name in FORCES])
    op.bulk_insert(courts, [{'code': code, 'name': name, 'updated_at': now} for code, name in COURTS])
    op.bulk_insert(districts, [
        {'code': code, 'name': name, 'force': force, 'population': population, 'court': court, 'updated_at': now}
        for code, name, force, population, court in DISTRICTS
    ])


def downgrade() -> None:
    op.drop_table('referral_districts')
    op.drop_table('referral_courts')
    op.drop_table('referral_forces')
