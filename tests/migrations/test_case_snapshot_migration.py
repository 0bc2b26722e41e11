"""Revision 0011 stores each case's folded snapshot: cases that existed before it are backfilled
by refolding their logs, and it runs back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import command

from diversion_common.database import make_engine
from diversion_common.migrations import alembic_config, upgrade
from referral_api.lifecycle.facts import Fact
from referral_api.lifecycle.fold import fold_snapshot
from referral_api.lifecycle.snapshots import snapshot_from_json

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
PROVIDER = uuid.UUID(int=7)

cases = sa.table(
    "referral_cases", sa.column("id", sa.Uuid()), sa.column("force", sa.String()), sa.column("police_reference", sa.String()),
    sa.column("status", sa.String()), sa.column("version", sa.Integer()), sa.column("pathway", sa.String()),
    sa.column("district", sa.String()), sa.column("encounter_at", sa.DateTime(timezone=True)),
    sa.column("previous_diversions", sa.Integer()), sa.column("sex", sa.String()), sa.column("ethnicity", sa.String()),
    sa.column("out_of_hours_wanted", sa.Boolean()), sa.column("created_by", sa.Uuid()),
    sa.column("created_at", sa.DateTime(timezone=True)), sa.column("updated_at", sa.DateTime(timezone=True)),
)
facts = sa.table(
    "referral_case_facts", sa.column("case_id", sa.Uuid()), sa.column("seq", sa.Integer()), sa.column("kind", sa.String()),
    sa.column("occurred_at", sa.DateTime(timezone=True)), sa.column("recorded_at", sa.DateTime(timezone=True)),
    sa.column("source", sa.String()), sa.column("source_id", sa.String()), sa.column("data", sa.JSON()),
)
snapshots = sa.table("referral_case_snapshots", sa.column("case_id", sa.Uuid()), sa.column("version", sa.Integer()), sa.column("state", sa.JSON()))

LOG = [
    ("referral.received", "police:x", {"pathway": "adult_deferred_summons", "needs_yju": False}),
    ("case.routed", "gateway", {"provider_id": str(PROVIDER), "reason": "covers the district"}),
    ("appointment.booked", f"provider:{PROVIDER}", {"appointment_id": "a-1", "kind": "assessment", "starts_at": "2026-11-04T10:00:00+00:00", "mode": "in_person"}),
    ("referral.accepted", f"provider:{PROVIDER}", {}),  # happened first, reported last
]


def test_cases_before_the_revision_are_backfilled_with_their_refolded_snapshot(fresh_database):
    url = fresh_database("referral_api")
    command.downgrade(alembic_config("referral_api", url), "0010")
    engine = make_engine(url)
    case_id = uuid.uuid4()
    try:
        with engine.begin() as connection:
            connection.execute(cases.insert().values(
                id=case_id, force="thames-valley", police_reference="43/00001/26", status="in_programme", version=len(LOG),
                pathway="adult_deferred_summons", district="reading", encounter_at=NOW, previous_diversions=0, sex="female",
                ethnicity="W1", out_of_hours_wanted=False, created_by=uuid.uuid4(), created_at=NOW, updated_at=NOW,
            ))
            for seq, (kind, source, data) in enumerate(LOG, start=1):
                occurred = NOW + timedelta(hours=seq if kind != "referral.accepted" else 1.5)
                connection.execute(facts.insert().values(case_id=case_id, seq=seq, kind=kind, occurred_at=occurred,
                                                         recorded_at=NOW + timedelta(days=1), source=source, source_id=f"m-{seq}", data=data))
        upgrade("referral_api", url)
        with engine.connect() as connection:
            [row] = connection.execute(sa.select(snapshots)).mappings()
            log = [Fact(kind=r["kind"], occurred_at=r["occurred_at"].replace(tzinfo=r["occurred_at"].tzinfo or UTC), seq=r["seq"],
                        source=r["source"], source_id=r["source_id"], data=r["data"], recorded_at=NOW + timedelta(days=1))
                   for r in connection.execute(sa.select(facts).order_by(facts.c.seq)).mappings()]
        assert row["case_id"] == case_id and row["version"] == len(LOG)
        assert snapshot_from_json(row["state"]) == fold_snapshot(log)
        assert snapshot_from_json(row["state"]).providers[PROVIDER].accepted.at == NOW + timedelta(hours=1.5)

        command.downgrade(alembic_config("referral_api", url), "0010")
        assert "referral_case_snapshots" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
