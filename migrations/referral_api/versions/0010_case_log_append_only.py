"""the case log and the read log are append-only in the database; retention's erasure is the one exception

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 22:00:00

`referral_case_facts` and `referral_case_access` refuse UPDATE and DELETE (and TRUNCATE on
PostgreSQL), whatever code or person asks. One exception, for the facts only: retention's
erasure of free text (referral_api/case_log/erasure.py) may change a fact's `data`, and nothing
else of it, inside a transaction that holds the erasure permit: on PostgreSQL the
transaction-local setting `diversion.erasure = 'on'`, on SQLite a row of
`referral_erasure_permits` that the erasure inserts and deletes in its own transaction.
"""
from typing import Sequence, Union

from alembic import op


revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

FACTS, READS = 'referral_case_facts', 'referral_case_access'
PERMITS = 'referral_erasure_permits'
FACTS_FUNCTION = 'referral_case_facts_append_only'  # with the erasure's exception
READS_FUNCTION = 'referral_case_access_append_only'
# What even the erasure may not change: which fact it is, when, from whom.
FACT_IDENTITY = ('case_id', 'seq', 'kind', 'occurred_at', 'recorded_at', 'source', 'source_id', 'actor_client_id', 'actor')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        _postgresql()
    else:
        _sqlite()


def _postgresql() -> None:
    new = ', '.join(f'NEW.{column}' for column in FACT_IDENTITY)
    old = ', '.join(f'OLD.{column}' for column in FACT_IDENTITY)
    op.execute(
        f"CREATE FUNCTION {FACTS_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN "
        f"IF TG_OP = 'UPDATE' AND current_setting('diversion.erasure', true) = 'on' "
        f"AND ROW({new}) IS NOT DISTINCT FROM ROW({old}) THEN RETURN NEW; END IF; "
        f"RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; "
        f"END $$"
    )
    op.execute(
        f"CREATE FUNCTION {READS_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
    )
    for table, function in ((FACTS, FACTS_FUNCTION), (READS, READS_FUNCTION)):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {READS_FUNCTION}()"  # never, not even for the erasure
        )


def _sqlite() -> None:
    op.execute(f"CREATE TABLE {PERMITS} (id INTEGER NOT NULL PRIMARY KEY)")
    identity_changed = ' OR '.join(f'NEW.{column} IS NOT OLD.{column}' for column in FACT_IDENTITY)
    op.execute(
        f"CREATE TRIGGER {FACTS}_no_update BEFORE UPDATE ON {FACTS} "
        f"WHEN NOT EXISTS (SELECT 1 FROM {PERMITS}) OR {identity_changed} "
        f"BEGIN SELECT RAISE(ABORT, '{FACTS} is append-only'); END"
    )
    op.execute(f"CREATE TRIGGER {FACTS}_no_delete BEFORE DELETE ON {FACTS} BEGIN SELECT RAISE(ABORT, '{FACTS} is append-only'); END")
    for action in ('UPDATE', 'DELETE'):
        op.execute(
            f"CREATE TRIGGER {READS}_no_{action.lower()} BEFORE {action} ON {READS} "
            f"BEGIN SELECT RAISE(ABORT, '{READS} is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        for table in (FACTS, READS):
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute(f"DROP FUNCTION {FACTS_FUNCTION}()")
        op.execute(f"DROP FUNCTION {READS_FUNCTION}()")
        return
    for table in (FACTS, READS):
        for action in ('update', 'delete'):
            op.execute(f"DROP TRIGGER {table}_no_{action}")
    op.execute(f"DROP TABLE {PERMITS}")
