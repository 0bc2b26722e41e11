"""The figures both services read from their own tables at scrape time: outbox, deliveries, circuits.

Each query reads only what an index bounds: the unsent outbox rows (``sent_at IS NULL``), the
deliveries still open or failed (``status`` leads the ``*_due`` index), one circuit row per
endpoint. The deliveries that succeeded (delivered, acknowledged, cancelled) are never
counted here: they grow for ever, and counting them would read the whole table at every scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from datetime import datetime

from prometheus_client.metrics_core import Metric
from sqlalchemy import Connection, Engine, and_, func, select

from diversion_common.database import as_utc, utcnow
from diversion_common.messaging import OutboxFields
from diversion_common.metrics import Probe, gauge
from diversion_common.webhooks.policy import CircuitPolicy
from diversion_common.webhooks.tables import DeliveryStatus, DeliveryTables

# The endpoints a service delivers to, each with the label it goes by (a provider's name, a recipient's code).
EndpointNames = Callable[[Connection], dict[Hashable, str]]

# The circuit's states as numbers, for graphs and alert thresholds.
CIRCUIT_CLOSED, CIRCUIT_PROBING, CIRCUIT_OPEN = 0, 1, 2


def age_seconds(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - as_utc(since)).total_seconds()) if since is not None else 0.0


def outbox_probe(table: type[OutboxFields], service: str) -> Probe:
    def probe(engine: Engine) -> Iterator[Metric]:
        unsent = and_(table.sent_at.is_(None), table.refused_at.is_(None))  # type: ignore[union-attr]
        with engine.connect() as connection:
            depth, oldest = connection.execute(select(func.count(), func.min(table.created_at)).where(unsent)).one()
        depth_family = gauge("outbox_messages", "Messages written for the other service and not yet sent", labels=["service"])
        depth_family.add_metric([service], depth)
        age_family = gauge("outbox_oldest_message_age_seconds", "Age of the oldest unsent message (0: none waiting)", labels=["service"])
        age_family.add_metric([service], age_seconds(oldest, utcnow()))
        yield from (depth_family, age_family)

    return probe


def deliveries_probe(tables: DeliveryTables, service: str, names: EndpointNames, states: tuple[str, ...]) -> Probe:
    """Open and failed deliveries per endpoint and state (0 for each endpoint that has none)."""
    delivery = tables.delivery

    def probe(engine: Engine) -> Iterator[Metric]:
        endpoint = delivery.endpoint()
        query = (
            select(endpoint, delivery.status, func.count(), func.min(delivery.created_at))
            .where(delivery.status.in_(states))  # type: ignore[attr-defined]
            .group_by(endpoint, delivery.status)
        )
        with engine.connect() as connection:
            labels = names(connection)
            rows = connection.execute(query).all()
        now = utcnow()
        counts = {(labels.get(e, str(e)), state): 0 for e in labels for state in states}
        ages = {}
        for endpoint_id, state, count, oldest in rows:
            key = (labels.get(endpoint_id, str(endpoint_id)), state)
            counts[key] = count
            ages[key] = age_seconds(oldest, now)
        count_family = gauge("deliveries", "Webhook deliveries still open or failed, by endpoint and state", labels=["service", "endpoint", "state"])
        for (name, state), count in sorted(counts.items()):
            count_family.add_metric([service, name, state], count)
        age_family = gauge(
            "deliveries_oldest_age_seconds", "Age of the oldest delivery in each open or failed state",
            labels=["service", "endpoint", "state"],
        )
        for (name, state), age in sorted(ages.items()):
            age_family.add_metric([service, name, state], age)
        yield from (count_family, age_family)

    return probe


OPEN_STATES = (DeliveryStatus.pending.value, DeliveryStatus.dead.value)


def circuits_probe(tables: DeliveryTables, service: str, names: EndpointNames, policy: CircuitPolicy) -> Probe:
    """Each endpoint's circuit breaker: closed (0), probing after a pause (1), open (2)."""
    circuit = tables.circuit

    def probe(engine: Engine) -> Iterator[Metric]:
        with engine.connect() as connection:
            labels = names(connection)
            rows = connection.execute(select(circuit.endpoint(), circuit.consecutive_failures, circuit.paused_until)).all()
        now = utcnow()
        state_family = gauge(
            "circuit_state", "An endpoint's circuit breaker: 0 closed, 1 probing (one delivery at a time), 2 open (paused)",
            labels=["service", "endpoint"],
        )
        failures_family = gauge("circuit_consecutive_failures", "Failed tries in a row, per endpoint", labels=["service", "endpoint"])
        seen = set()
        for endpoint_id, failures, paused_until in rows:
            name = labels.get(endpoint_id, str(endpoint_id))
            seen.add(endpoint_id)
            if paused_until is not None and as_utc(paused_until) > now:
                state = CIRCUIT_OPEN
            elif policy.is_probing(failures):
                state = CIRCUIT_PROBING
            else:
                state = CIRCUIT_CLOSED
            state_family.add_metric([service, name], state)
            failures_family.add_metric([service, name], failures)
        for endpoint_id, name in labels.items():
            if endpoint_id not in seen:  # never failed: no circuit row yet
                state_family.add_metric([service, name], CIRCUIT_CLOSED)
                failures_family.add_metric([service, name], 0)
        yield from (state_family, failures_family)

    return probe
