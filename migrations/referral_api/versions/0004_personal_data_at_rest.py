"""personal data at rest: signing secrets encrypted, delivered payloads erased (digest kept),
cases' personal data erasable by retention (age band, erasure time)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00

Secrets already stored are encrypted with REFERRAL_API_SECRETS_KEYS (it must be set when
there are any). A downgrade decrypts them, but cannot bring back what was erased: an
erased payload or referral becomes {} and an erased age 0.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel

from diversion_common import privacy_migrations as steps


revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

KEYS = 'REFERRAL_API_SECRETS_KEYS'


def upgrade() -> None:
    connection = op.get_bind()
    steps.require_keys_for_secrets(connection, 'referral_callback_secrets', KEYS)

    with op.batch_alter_table('referral_callback_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sqlmodel.sql.sqltypes.AutoString(length=100),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=500), existing_nullable=False)
    steps.encrypt_secrets(connection, 'referral_callback_secrets', KEYS)

    for table in ('referral_outbox', 'referral_deliveries'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=True)
            batch_op.add_column(sa.Column('payload_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    steps.erase_payloads(connection, 'referral_outbox', 'id', 'sent_at IS NOT NULL OR refused_at IS NOT NULL')
    steps.erase_payloads(connection, 'referral_deliveries', 'id', "status = 'delivered'")

    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.alter_column('age_at_encounter', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('age_band', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True))
        batch_op.alter_column('referral', existing_type=sa.JSON(), nullable=True)
        batch_op.add_column(sa.Column('personal_data_erased_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    connection = op.get_bind()
    steps.require_keys_for_secrets(connection, 'referral_callback_secrets', KEYS)

    cases = sa.table('referral_cases', sa.column('age_at_encounter', sa.Integer()))
    connection.execute(cases.update().where(cases.c.age_at_encounter.is_(None)).values(age_at_encounter=0))
    steps.restore_empty_payloads(connection, 'referral_cases', 'referral')
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.drop_column('personal_data_erased_at')
        batch_op.alter_column('referral', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('age_band')
        batch_op.alter_column('age_at_encounter', existing_type=sa.Integer(), nullable=False)

    for table in ('referral_deliveries', 'referral_outbox'):
        steps.restore_empty_payloads(connection, table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('payload_sha256')
            batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=False)

    steps.decrypt_secrets(connection, 'referral_callback_secrets', KEYS)
    with op.batch_alter_table('referral_callback_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sqlmodel.sql.sqltypes.AutoString(length=500),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=100), existing_nullable=False)
