"""A referral_api database of many cases, loaded in bulk (not through the API), for `make bench-scale`.

Two steps:

1. ``build_templates``: 180 cases written with the service's own code, in process, each
   referred on a day of the last five years (open ones: of the last 90 days) and taken through
   one of the scenarios below (its facts appended and
   folded as the service folds them, the breach rules applied at each fact's time, so that
   warnings and breach requests arise as they would). Their rows are the real thing: facts,
   snapshot, projection, breach request rows.
2. ``clone``: PostgreSQL copies the templates' rows to N cases in one INSERT ... SELECT per table
   (bulk, server-side: no row crosses the client), each clone with its own case id, police
   reference, force and district (in proportion to the districts' populations), breach request
   ids and fact source ids, and its dates within an hour of its template's: JSON bodies (the
   referral, the snapshot, the facts' data) keep their template's dates and texts, and a case's
   times must agree with each other (which facts a court sees as reported after a submission
   compares the snapshot's times with the facts'). The ids inside the snapshots are rewritten,
   so each clone's folded state names its own case. (The templates' facts were all written in
   the second the template was built: a clone's fact is recorded a minute after it happened,
   as a live system would have recorded it.)

Scenario weights follow what the scheme's figures make likely for five years of cases: most
ended (completed, some refused, withdrawn, closed or breached), a few in progress.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from pydantic import TypeAdapter
from sqlalchemy import Engine, select
from sqlmodel import Session

from diversion_common import actors
from diversion_common.contracts import ProviderEvent
from diversion_common.database import as_utc
from referral_api.breaches.tables import BreachRequestRow
from referral_api.case_events import recording
from referral_api.case_events.recording import apply_breach_rules
from referral_api.case_log import service as case_log
from referral_api.cases.schemas import ReferralCreate
from referral_api.cases.service import build_case
from referral_api.lifecycle.facts import FactKind, court_source, police_source, provider_fact_from_event
from support.dated_cases import POLICE, PROVIDER, DatedFact, record_dated
from support.referrals import adult_referral

COURT = uuid.UUID(int=300)
_EVENT = TypeAdapter(ProviderEvent)
DAY = 24.0  # hours

# (hours after referral, provider event type, event data); the referral, its routing and the
# acceptance come first in every scenario but "routed".
Step = tuple[float, str, dict[str, Any]]


def _appointment(number: int, kind: str, booked: float, starts: float, outcome: str | None, **extra: Any) -> list[Step]:
    appointment = f"A{number}"
    steps: list[Step] = [(booked, "appointment.booked", {"appointment_id": appointment, "kind": kind, "starts_in_hours": starts, "mode": "in_person"})]
    if outcome == "attended":
        steps.append((starts + 0.5, "appointment.attended", {"appointment_id": appointment}))
    elif outcome == "missed":
        steps.append((starts + 0.5, "appointment.missed", {"appointment_id": appointment, "reason_category": extra.get("reason", "unacceptable")}))
    return steps


_CONTACT: list[Step] = [(1 * DAY, "contact.attempted", {"method": "phone", "outcome": "no_answer"}),
                        (1.1 * DAY, "contact.attempted", {"method": "phone", "outcome": "no_answer"}),
                        (1.2 * DAY, "contact.attempted", {"method": "sms", "outcome": "message_left"}),
                        (1.5 * DAY, "contact.attempted", {"method": "email", "outcome": "no_answer"}),
                        (2 * DAY, "contact.attempted", {"method": "phone", "outcome": "reached"})]
_COMPLETED: list[Step] = [
    *_CONTACT,
    *_appointment(1, "assessment", 2 * DAY, 6 * DAY, "attended"),
    (6 * DAY + 1, "assessment.completed", {"outcome": "suitable_for_programme"}),
    (10 * DAY, "intervention.completed", {"intervention": "online_intervention_1"}),
    (14 * DAY, "intervention.completed", {"intervention": "online_intervention_2"}),
    *_appointment(2, "follow_up", 15 * DAY, 18 * DAY, None),
    (16 * DAY, "appointment.cancelled", {"appointment_id": "A2", "cancelled_by": "person", "reason": "work shift"}),
    *_appointment(2, "follow_up", 16 * DAY, 20 * DAY, "attended"),
    (20 * DAY + 1, "intervention.completed", {"intervention": "follow_up"}),
    (20 * DAY + 2, "course.completed", {}),
]
_BREACHED: list[Step] = [
    *_CONTACT,
    *_appointment(1, "assessment", 2 * DAY, 6 * DAY, "missed"),
    *_appointment(2, "assessment", 7 * DAY, 12 * DAY, "missed"),
]

SCENARIOS: dict[str, tuple[float, list[Step] | None]] = {
    # name: (share of cases, provider steps after acceptance; None: never accepted)
    "completed": (0.60, _COMPLETED),
    "breach_decided": (0.12, _BREACHED),  # the officer submits the request; the court hears it and decides
    "breach_submitted": (0.03, _BREACHED),  # submitted, awaiting the court
    "refused": (0.07, [*_CONTACT, (3 * DAY, "engagement.refused", {})]),
    "closed_by_provider": (0.05, [*_CONTACT[:2], (4 * DAY, "case.closed_by_provider", {"reason": "moved_away"})]),
    "withdrawn": (0.05, [*_CONTACT[:1]]),  # then the police withdraw it
    "in_programme": (0.06, [*_CONTACT, *_appointment(1, "assessment", 2 * DAY, 6 * DAY, "attended"),
                            (6 * DAY + 1, "assessment.completed", {"outcome": "suitable_for_programme"})]),
    "accepted": (0.015, []),
    "routed": (0.005, None),
}


# Open cases are recent; ended ones spread over the last five years.
_OPEN_SCENARIOS = ("routed", "accepted", "in_programme", "refused", "breach_submitted")
_YEARS = 5


@dataclass
class Template:
    case_id: uuid.UUID
    scenario: str
    weight: float


def build_template(engine: Engine, scenario: str, steps: list[Step] | None, referred_at: datetime) -> uuid.UUID:
    """One case through ``scenario``, each fact recorded as at its time, the rules applied after each."""
    body = adult_referral()
    body["encounter"]["occurred_at"] = (referred_at - timedelta(hours=2)).isoformat()
    case = build_case(ReferralCreate.model_validate(body), POLICE, referred_at)
    history: list[DatedFact] = [
        (FactKind.referral_received, referred_at, police_source(POLICE.client_id), str(case.id), {"pathway": case.pathway, "needs_yju": False}),
        (FactKind.routed, referred_at + timedelta(hours=1), case_log.GATEWAY_SOURCE, str(uuid.uuid4()),
         {"provider_id": str(PROVIDER), "reason": "covers the district"}),
    ]
    if steps is not None:
        for hours, event_type, data in [(2.0, "referral.accepted", {}), *[(h + 2.0, t, d) for h, t, d in steps]]:
            at = referred_at + timedelta(hours=hours)
            if "starts_in_hours" in data:
                data = {**{k: v for k, v in data.items() if k != "starts_in_hours"},
                        "starts_at": (referred_at + timedelta(hours=data["starts_in_hours"] + 2.0)).isoformat()}
            event = _EVENT.validate_python({"type": event_type, "data": {"case_id": str(case.id), "occurred_at": at, **data}})
            fact = provider_fact_from_event(event, PROVIDER, f"wh-{uuid.uuid4()}", 1, at)
            history.append((fact.kind, fact.occurred_at, fact.source, fact.source_id, dict(fact.data)))
    if scenario == "withdrawn":
        at = history[-1][1] + timedelta(days=3)
        history.append((FactKind.withdrawn, at, police_source(POLICE.client_id), str(uuid.uuid4()), {"reason": "no_further_action", "note": None}))
    with Session(engine, expire_on_commit=False) as session:
        record_dated(session, case, history)
        # The rules run once more a month on: whatever fell due after the last fact (a breach request).
        apply_breach_rules(session, case, history[-1][1] + timedelta(days=30), actor=actors.SCHEDULER)
        if scenario.startswith("breach_"):
            _take_to_court(session, case, decided=scenario == "breach_decided")
        session.commit()
    return case.id


def _take_to_court(session: Session, case: Any, *, decided: bool) -> None:
    """The officer submits the case's breach request a day after it was raised; the court hears it."""
    request = session.scalars(select(BreachRequestRow).where(BreachRequestRow.case_id == case.id)).one()
    request_id, raised_at = str(request.id), as_utc(request.raised_at)
    steps: list[tuple[FactKind, float, str, dict[str, Any]]] = [(FactKind.breach_submitted, 1, police_source(POLICE.client_id), {})]
    if decided:
        steps += [
            (FactKind.breach_acknowledged, 2, court_source(COURT), {}),
            (FactKind.breach_hearing_scheduled, 3, court_source(COURT), {"hearing_at": (raised_at + timedelta(days=20)).isoformat(), "court_room": "2"}),
            (FactKind.breach_outcome_recorded, 20, court_source(COURT), {"outcome": "summons_issued", "note": None}),
        ]
    for kind, days, source, data in steps:
        recording.record(session, case, kind=kind, occurred_at=raised_at + timedelta(days=days), source=source,
                         source_id=str(uuid.uuid4()), data={"breach_request_id": request_id, **data})


def build_templates(engine: Engine, per_scenario: int = 20, seed: int = 25) -> list[Template]:
    """``per_scenario`` cases of each scenario, referred on days spread over the last five years
    (open ones: the last 90 days), so that clones, which keep their template's dates, spread too."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    templates = []
    for scenario, (share, steps) in SCENARIOS.items():
        for index in range(per_scenario):
            window = 90 if scenario in _OPEN_SCENARIOS else 365 * _YEARS
            days_ago = 60 + window * (index + rng.random()) / per_scenario
            case_id = build_template(engine, scenario, steps, now - timedelta(days=days_ago))
            templates.append(Template(case_id, scenario, share / per_scenario))
    return templates


def clone(database_url: str, templates: list[Template], first: int, last: int, seed: float = 0.25) -> None:
    """Clones ``first`` to ``last`` (numbered from 1) of the templates, in one transaction."""
    with psycopg.connect(database_url) as conn:
        # The clones are consistent by construction: no foreign-key trigger per row.
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SELECT setseed(%s)", (seed + first / 1e9,))
        conn.execute("CREATE TEMP TABLE bench_templates (case_id uuid PRIMARY KEY, low float8, high float8) ON COMMIT DROP")
        low = 0.0
        total = sum(t.weight for t in templates)
        with conn.cursor().copy("COPY bench_templates (case_id, low, high) FROM STDIN") as copy:
            for template in templates:
                high = low + template.weight / total
                copy.write_row((template.case_id, low, high))
                low = high
        conn.execute(_CLONES, {"first": first, "last": last})
        for statement in _COPIES:
            conn.execute(statement)
        conn.commit()


# Each clone: its template (by weight), its district (by population: force and court follow),
# its new ids, and how far its dates move (within an hour).
_CLONES = """
CREATE TEMP TABLE bench_clones ON COMMIT DROP AS
WITH draws AS (
    SELECT n, random() AS template_draw, random() AS district_draw, random() AS when_draw
    FROM generate_series(%(first)s::int, %(last)s::int) AS n
), districts AS (
    SELECT code, force, court,
           coalesce(sum(population) OVER (ORDER BY code ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)::float8
               / sum(population) OVER () AS low,
           sum(population) OVER (ORDER BY code)::float8 / sum(population) OVER () AS high
    FROM referral_districts WHERE retired_at IS NULL
)
SELECT d.n,
       t.case_id AS template_id,
       md5(t.case_id::text || ':' || d.n)::uuid AS case_id,
       r.code AS district, r.force, r.court,
       -- within an hour of its template's dates: the JSON bodies (the snapshot's, the facts'
       -- data) keep the template's, and a case's times must agree with each other
       interval '1 hour' * (2 * d.when_draw - 1) AS shift
FROM draws d
JOIN bench_templates t ON d.template_draw >= t.low AND d.template_draw < t.high
JOIN districts r ON d.district_draw >= r.low AND d.district_draw < r.high
"""

_COPIES = [
    """
    INSERT INTO referral_cases (id, force, police_reference, status, version, next_deadline_at, pathway, district, encounter_at,
        previous_diversions, age_at_encounter, age_band, sex, ethnicity, out_of_hours_wanted, referral, personal_data_erased_at,
        created_by, created_at, updated_at)
    SELECT k.case_id, k.force, 'BULK/' || k.n, c.status, c.version,
        -- a deadline already past is left out: nobody's checks should find a backlog of old cases due
        CASE WHEN c.next_deadline_at + k.shift > now() THEN c.next_deadline_at + k.shift END, c.pathway, k.district,
        c.encounter_at + k.shift, c.previous_diversions, c.age_at_encounter, c.age_band, c.sex, c.ethnicity, c.out_of_hours_wanted,
        c.referral, c.personal_data_erased_at, c.created_by, c.created_at + k.shift, c.updated_at + k.shift
    FROM bench_clones k JOIN referral_cases c ON c.id = k.template_id
    """,
    """
    CREATE TEMP TABLE bench_requests ON COMMIT DROP AS
    SELECT k.n, b.id AS template_request, md5(b.id::text || ':' || k.n)::uuid AS request_id
    FROM bench_clones k JOIN referral_breach_requests b ON b.case_id = k.template_id
    """,
    """
    INSERT INTO referral_breach_requests (id, case_id, force, addressee, court, rule, status, raised_at, review_due_at,
        submitted_at, updated_at, version)
    SELECT q.request_id, k.case_id, k.force, b.addressee, k.court, b.rule, b.status, b.raised_at + k.shift,
        b.review_due_at + k.shift, b.submitted_at + k.shift, b.updated_at + k.shift, b.version
    FROM bench_clones k JOIN referral_breach_requests b ON b.case_id = k.template_id
    JOIN bench_requests q ON q.n = k.n AND q.template_request = b.id
    """,
    """
    INSERT INTO referral_case_facts (case_id, seq, kind, occurred_at, recorded_at, source, source_id, actor_client_id, actor, data)
    SELECT k.case_id, f.seq, f.kind, f.occurred_at + k.shift, f.occurred_at + k.shift + interval '1 minute', f.source, f.source_id || ':' || k.n,
        f.actor_client_id, f.actor,
        coalesce(replace(f.data::text, q.template_request::text, q.request_id::text), f.data::text)::json
    FROM bench_clones k JOIN referral_case_facts f ON f.case_id = k.template_id
    LEFT JOIN bench_requests q ON q.n = k.n
    """,
    """
    INSERT INTO referral_case_snapshots (case_id, version, format, state)
    SELECT k.case_id, s.version, s.format,
        replace(coalesce(replace(s.state::text, q.template_request::text, q.request_id::text), s.state::text),
                k.template_id::text, k.case_id::text)::json
    FROM bench_clones k JOIN referral_case_snapshots s ON s.case_id = k.template_id
    LEFT JOIN bench_requests q ON q.n = k.n
    """,
]


_BULK_TABLES = ("referral_case_facts", "referral_cases", "referral_case_snapshots", "referral_breach_requests")


class IndexesSetAside:
    """The bulk-loaded tables' indexes that back no constraint, dropped for a large load and made
    again after it (one sorted build each, not one insertion per row)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.definitions: list[str] = []

    def __enter__(self) -> IndexesSetAside:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", (list(_BULK_TABLES),)
            ).fetchall()
            for name, definition in rows:
                conn.execute(f'DROP INDEX "{name}"')
                self.definitions.append(definition)
        return self

    def __exit__(self, *_exc: object) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute("SET maintenance_work_mem = '1GB'")
            for definition in self.definitions:
                conn.execute(definition)
