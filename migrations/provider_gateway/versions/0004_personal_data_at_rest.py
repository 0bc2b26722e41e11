"""personal data at rest: signing secrets encrypted, delivered payloads erased (digest kept),
an ended case's referral erased

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:00:00

Secrets already stored are encrypted with PROVIDER_GATEWAY_SECRETS_KEYS (it must be set when
there are any). A downgrade decrypts them, but cannot bring back what was erased: an
erased payload or referral becomes {}.
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

KEYS = 'PROVIDER_GATEWAY_SECRETS_KEYS'


def upgrade() -> None:
    connection = op.get_bind()
    steps.require_keys_for_secrets(connection, 'gateway_provider_secrets', KEYS)

    with op.batch_alter_table('gateway_provider_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sqlmodel.sql.sqltypes.AutoString(length=100),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=500), existing_nullable=False)
    steps.encrypt_secrets(connection, 'gateway_provider_secrets', KEYS)

    for table in ('gateway_outbox', 'gateway_deliveries'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=True)
            batch_op.add_column(sa.Column('payload_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    steps.erase_payloads(connection, 'gateway_outbox', 'id', 'sent_at IS NOT NULL OR refused_at IS NOT NULL')
    steps.erase_payloads(connection, 'gateway_deliveries', 'id', "status IN ('delivered', 'acknowledged')")

    with op.batch_alter_table('gateway_cases', schema=None) as batch_op:
        batch_op.alter_column('provider_payload', existing_type=sa.JSON(), nullable=True)
        batch_op.add_column(sa.Column('personal_data_erased_at', sa.DateTime(timezone=True), nullable=True))
    # Cases already ended: their referral, and what their settled deliveries carry, go now.
    ended = "status IN ('withdrawn', 'ended')"
    steps.erase_payloads(
        connection, 'gateway_deliveries', 'id',
        f"status NOT IN ('pending', 'awaiting_pull') AND case_id IN (SELECT case_id FROM gateway_cases WHERE {ended})",
    )
    cases = sa.table('gateway_cases', sa.column('provider_payload', sa.JSON(none_as_null=True)),
                     sa.column('personal_data_erased_at', sa.DateTime(timezone=True)), sa.column('status', sa.String()))
    connection.execute(
        cases.update().where(cases.c.status.in_(['withdrawn', 'ended']), cases.c.provider_payload.is_not(None))
        .values(provider_payload=sa.null(), personal_data_erased_at=sa.func.current_timestamp())
    )


def downgrade() -> None:
    connection = op.get_bind()
    steps.require_keys_for_secrets(connection, 'gateway_provider_secrets', KEYS)

    steps.restore_empty_payloads(connection, 'gateway_cases', 'provider_payload')
    with op.batch_alter_table('gateway_cases', schema=None) as batch_op:
        batch_op.drop_column('personal_data_erased_at')
        batch_op.alter_column('provider_payload', existing_type=sa.JSON(), nullable=False)

    for table in ('gateway_deliveries', 'gateway_outbox'):
        steps.restore_empty_payloads(connection, table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('payload_sha256')
            batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=False)

    steps.decrypt_secrets(connection, 'gateway_provider_secrets', KEYS)
    with op.batch_alter_table('gateway_provider_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sqlmodel.sql.sqltypes.AutoString(length=500),
                              type_=sqlmodel.sql.sqltypes.AutoString(length=100), existing_nullable=False)
