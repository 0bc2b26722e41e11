"""callbacks named for what they serve: a force's, a court's or a YJU's system. The endpoints'
table referral_police_callbacks becomes referral_callback_endpoints, and the column naming the
receiver, ``force`` (which held ``court:<court>`` and ``yju:<force>`` too), becomes ``recipient``
in the endpoints, their secrets, their deliveries and their circuits

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 00:00:00
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0015'
down_revision: Union[str, None] = '0014'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ('referral_callback_endpoints', 'referral_callback_secrets', 'referral_deliveries', 'referral_endpoint_circuits')
INDEXED = ('referral_callback_secrets', 'referral_deliveries')


def _rename(old_table: str, new_table: str, old: str, new: str) -> None:
    op.rename_table(old_table, new_table)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f'ALTER TABLE {new_table} RENAME CONSTRAINT {old_table}_pkey TO {new_table}_pkey')
    tables = tuple(new_table if table == old_table else table for table in TABLES)
    for table in tables:
        # RENAME COLUMN: PostgreSQL, and SQLite since 3.25; an index on the column follows it.
        op.execute(f'ALTER TABLE {table} RENAME COLUMN {old} TO {new}')
    for table in INDEXED:
        op.drop_index(f'ix_{table}_{old}', table_name=table)
        op.create_index(f'ix_{table}_{new}', table, [new], unique=False)


def upgrade() -> None:
    _rename('referral_police_callbacks', 'referral_callback_endpoints', 'force', 'recipient')


def downgrade() -> None:
    _rename('referral_callback_endpoints', 'referral_police_callbacks', 'recipient', 'force')
