"""Schema changes both services make to their own tables, written once.

Each service's Alembic revision calls these with its table prefix (``referral`` or
``gateway``); the revision files keep their ids and their place in each history.
Only Alembic revisions call this module (it needs Alembic's ``op`` context).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


def _audit_tables(prefix: str) -> tuple[str, str]:
    return f"{prefix}_audit_log", f"{prefix}_audit_cases"


def _append_only_function(prefix: str) -> str:
    return f"{prefix}_audit_append_only"


def create_audit_log(prefix: str) -> None:
    """The audit log: every call, by whom, on which cases; the database refuses to change it."""
    log, cases = _audit_tables(prefix)
    op.create_table(
        log,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column("correlation_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("route", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("path_ids", sa.JSON(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table(log, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{log}_request_id"), ["request_id"], unique=True)
        batch_op.create_index(batch_op.f(f"ix_{log}_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{log}_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{log}_at"), ["at"], unique=False)

    op.create_table(
        cases,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table(cases, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f"ix_{cases}_audit_id"), ["audit_id"], unique=False)
        batch_op.create_index(batch_op.f(f"ix_{cases}_case_id"), ["case_id"], unique=False)

    refuse_update_and_delete((log, cases), _append_only_function(prefix))


def drop_audit_log(prefix: str) -> None:
    # Dropping a table drops its triggers.
    log, cases = _audit_tables(prefix)
    with op.batch_alter_table(cases, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f"ix_{cases}_case_id"))
        batch_op.drop_index(batch_op.f(f"ix_{cases}_audit_id"))
    op.drop_table(cases)
    with op.batch_alter_table(log, schema=None) as batch_op:
        batch_op.drop_index(batch_op.f(f"ix_{log}_at"))
        batch_op.drop_index(batch_op.f(f"ix_{log}_status"))
        batch_op.drop_index(batch_op.f(f"ix_{log}_client_id"))
        batch_op.drop_index(batch_op.f(f"ix_{log}_request_id"))
    op.drop_table(log)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION {_append_only_function(prefix)}()")


def refuse_update_and_delete(tables: Sequence[str], function: str) -> None:
    """The database itself refuses to change or remove a row of these tables, whatever code asks
    (on PostgreSQL through ``function``, which this creates; TRUNCATE too)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in tables:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {function}()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )
    else:
        for table in tables:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def add_sent_to_digest(deliveries_table: str) -> None:
    """Where each delivery was last sent (the SHA-256 of the URL), so a redelivery goes only there.
    Left empty for deliveries made before: where they went is unknown, so none is redelivered
    (diversion_common/webhooks/addressing.py); those still pending are sent as before."""
    with op.batch_alter_table(deliveries_table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("sent_to_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def drop_sent_to_digest(deliveries_table: str) -> None:
    with op.batch_alter_table(deliveries_table, schema=None) as batch_op:
        batch_op.drop_column("sent_to_sha256")


def add_client_court(clients_table: str) -> None:
    """A court client's court: it sees only that court's breach requests."""
    with op.batch_alter_table(clients_table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("court", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=True))


def drop_client_court(clients_table: str) -> None:
    with op.batch_alter_table(clients_table, schema=None) as batch_op:
        batch_op.drop_column("court")


def add_request_ids(prefix: str) -> None:
    """The X-Request-ID of the call that caused each outbox message and delivery, carried on with it.
    Empty on rows written before: their work is logged without one."""
    for table in (f"{prefix}_outbox", f"{prefix}_deliveries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True))


def drop_request_ids(prefix: str) -> None:
    for table in (f"{prefix}_outbox", f"{prefix}_deliveries"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("request_id")
