"""The gateway's figures for /metrics (diversion_common/metrics.py): outbox, deliveries, circuits, events."""

from __future__ import annotations

from collections.abc import Hashable

from prometheus_client import Counter
from sqlalchemy import Connection, select
from sqlmodel import Session

from diversion_common.domain_metrics import circuits_probe, deliveries_probe, outbox_probe
from diversion_common.metrics import PREFIX, Probe, count_on_commit
from diversion_common.webhooks.policy import CircuitPolicy
from provider_gateway.deliveries.tables import GATEWAY_DELIVERIES, DeliveryStatus
from provider_gateway.messaging.tables import OutboxMessage
from provider_gateway.providers.schemas import DeliveryMode
from provider_gateway.providers.tables import Provider

SERVICE = "provider_gateway"

# Counted where each event is decided (events/service.py): a flow, read with rate() or increase().
PROVIDER_EVENTS = Counter(
    f"{PREFIX}_provider_events",
    "Providers' events decided, by type, outcome (applied, refused) and the refusal's code",
    ["type", "outcome", "reason"],
)


def count_event(session: Session, event_type: str, outcome: str, reason: str | None = None) -> None:
    """Count a decision once the transaction that keeps it commits."""
    count_on_commit(session, PROVIDER_EVENTS.labels(event_type, outcome, reason or ""))


def _providers(connection: Connection) -> dict[Hashable, str]:
    return dict(connection.execute(select(Provider.id, Provider.name)).all())


def _webhook_providers(connection: Connection) -> dict[Hashable, str]:
    query = select(Provider.id, Provider.name).where(Provider.delivery_mode == DeliveryMode.webhook.value)
    return dict(connection.execute(query).all())


def database_probes(circuit: CircuitPolicy) -> list[Probe]:
    open_states = (DeliveryStatus.pending.value, DeliveryStatus.awaiting_pull.value, DeliveryStatus.dead.value)
    return [
        outbox_probe(OutboxMessage, SERVICE),
        deliveries_probe(GATEWAY_DELIVERIES, SERVICE, _providers, open_states),
        circuits_probe(GATEWAY_DELIVERIES, SERVICE, _webhook_providers, circuit),
    ]
