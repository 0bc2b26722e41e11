"""providers' event receipts carry referral_api's decision; the case mirror; refused outbox messages

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 07:00:00
"""
import uuid
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# As provider_gateway.events.service.message_id_for: the message id of an event is derived from it.
_MESSAGE_IDS = uuid.UUID("6f1c2a4e-5b7d-4c1e-9a3f-2d8e0b6c7a15")


def upgrade() -> None:
    with op.batch_alter_table('gateway_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('gateway_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('case_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('case_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('programme', sa.JSON(), nullable=True))

    with op.batch_alter_table('gateway_provider_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message_id', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True))
        # Events received before this revision were applied on receipt.
        batch_op.add_column(sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False, server_default='applied'))
        batch_op.add_column(sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('case_status', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('case_version', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('refusal_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('refusal_detail', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))

    receipts = sa.table(
        'gateway_provider_events',
        sa.column('provider_id', sa.Uuid()), sa.column('webhook_id', sa.String()), sa.column('message_id', sa.Uuid()),
        sa.column('received_at', sa.DateTime(timezone=True)), sa.column('occurred_at', sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    for provider_id, webhook_id, received_at in connection.execute(
        sa.select(receipts.c.provider_id, receipts.c.webhook_id, receipts.c.received_at)
    ).all():
        connection.execute(
            receipts.update()
            .where(receipts.c.provider_id == provider_id, receipts.c.webhook_id == webhook_id)
            .values(message_id=uuid.uuid5(_MESSAGE_IDS, f"{provider_id}/{webhook_id}"), occurred_at=received_at)
        )

    with op.batch_alter_table('gateway_provider_events', schema=None) as batch_op:
        batch_op.alter_column('message_id', existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column('occurred_at', existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_gateway_provider_events_message_id'), ['message_id'])
        batch_op.create_index(batch_op.f('ix_gateway_provider_events_outcome'), ['outcome'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('gateway_provider_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_provider_events_outcome'))
        batch_op.drop_constraint(batch_op.f('uq_gateway_provider_events_message_id'), type_='unique')
        for column in ('refusal_detail', 'refusal_code', 'case_version', 'case_status', 'decided_at', 'outcome', 'occurred_at', 'message_id'):
            batch_op.drop_column(column)

    with op.batch_alter_table('gateway_cases', schema=None) as batch_op:
        for column in ('programme', 'case_version', 'case_status', 'accepted_at'):
            batch_op.drop_column(column)

    with op.batch_alter_table('gateway_outbox', schema=None) as batch_op:
        batch_op.drop_column('refused_at')
