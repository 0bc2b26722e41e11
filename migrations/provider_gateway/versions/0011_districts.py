"""the gateway's copy of the scheme's districts (those a provider may serve), seeded with the
defaults referral_api's migration 0013 seeds; kept in step by its reference.district_changed messages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-09 10:00:00
"""
from datetime import datetime, timezone
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# code, force, name
DISTRICTS = [
    ('reading', 'thames-valley', 'Reading'),
    ('milton-keynes', 'thames-valley', 'Milton Keynes'),
    ('oxford', 'thames-valley', 'Oxford'),
    ('wycombe', 'thames-valley', 'Wycombe'),
    ('west-berkshire', 'thames-valley', 'West Berkshire'),
    ('vale-of-white-horse', 'thames-valley', 'Vale of White Horse'),
    ('west-oxfordshire', 'thames-valley', 'West Oxfordshire'),
    ('slough', 'thames-valley', 'Slough'),
    ('cherwell', 'thames-valley', 'Cherwell'),
    ('south-oxfordshire', 'thames-valley', 'South Oxfordshire'),
    ('aylesbury-vale', 'thames-valley', 'Aylesbury Vale'),
    ('bracknell-forest', 'thames-valley', 'Bracknell Forest'),
    ('south-bucks', 'thames-valley', 'South Bucks'),
    ('windsor-and-maidenhead', 'thames-valley', 'Windsor & Maidenhead'),
    ('chiltern', 'thames-valley', 'Chiltern'),
    ('wokingham', 'thames-valley', 'Wokingham'),
    ('portsmouth', 'hampshire', 'Portsmouth'),
    ('southampton', 'hampshire', 'Southampton'),
    ('winchester', 'hampshire', 'Winchester'),
    ('havant', 'hampshire', 'Havant'),
    ('fareham', 'hampshire', 'Fareham'),
    ('gosport', 'hampshire', 'Gosport'),
    ('basingstoke-and-deane', 'hampshire', 'Basingstoke & Deane'),
    ('eastleigh', 'hampshire', 'Eastleigh'),
    ('test-valley', 'hampshire', 'Test Valley'),
    ('east-hampshire', 'hampshire', 'East Hampshire'),
    ('new-forest', 'hampshire', 'New Forest'),
    ('hart', 'hampshire', 'Hart'),
    ('rushmoor', 'hampshire', 'Rushmoor'),
]


def upgrade() -> None:
    districts = op.create_table(
        'gateway_districts',
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('force', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column('retired', sa.Boolean(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('code'),
    )
    now = datetime.now(timezone.utc)
    op.bulk_insert(districts, [
        {'code': code, 'force': force, 'name': name, 'retired': False, 'updated_at': now} for code, force, name in DISTRICTS
    ])


def downgrade() -> None:
    op.drop_table('gateway_districts')
