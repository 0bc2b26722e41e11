"""the audit log: every call, by whom, on which cases (append-only)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

AUDIT_TABLES = ('gateway_audit_log', 'gateway_audit_cases')
REFUSE_FUNCTION = 'gateway_audit_append_only'


def upgrade() -> None:
    op.create_table('gateway_audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('correlation_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('client_id', sa.Uuid(), nullable=True),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('method', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('route', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('path_ids', sa.JSON(), nullable=True),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gateway_audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_audit_log_request_id'), ['request_id'], unique=True)
        batch_op.create_index(batch_op.f('ix_gateway_audit_log_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_audit_log_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_audit_log_at'), ['at'], unique=False)

    op.create_table('gateway_audit_cases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('audit_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('gateway_audit_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_audit_cases_audit_id'), ['audit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_audit_cases_case_id'), ['case_id'], unique=False)

    refuse_update_and_delete()


def refuse_update_and_delete() -> None:
    """The database itself refuses to change or remove an audit row, whatever code asks."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            f"CREATE FUNCTION {REFUSE_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in AUDIT_TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {REFUSE_FUNCTION}()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {REFUSE_FUNCTION}()"
            )
    else:
        for table in AUDIT_TABLES:
            for action in ('UPDATE', 'DELETE'):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    # Dropping a table drops its triggers.
    with op.batch_alter_table('gateway_audit_cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_audit_cases_case_id'))
        batch_op.drop_index(batch_op.f('ix_gateway_audit_cases_audit_id'))
    op.drop_table('gateway_audit_cases')
    with op.batch_alter_table('gateway_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_audit_log_at'))
        batch_op.drop_index(batch_op.f('ix_gateway_audit_log_status'))
        batch_op.drop_index(batch_op.f('ix_gateway_audit_log_client_id'))
        batch_op.drop_index(batch_op.f('ix_gateway_audit_log_request_id'))
    op.drop_table('gateway_audit_log')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(f"DROP FUNCTION {REFUSE_FUNCTION}()")
