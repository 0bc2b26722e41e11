"""GET /metrics over real HTTP: both services as processes with their internal listeners (as
`diversion-link serve` and docker/compose.yaml run them). The internal port serves the
exposition; the public port answers /metrics as any unknown path, with the 404 problem.

The same processes are scraped for every metric name the alerts (docker/prometheus/alerts.yml)
and the dashboard (docker/grafana/diversion-link.json) use: a name the services do not expose
would leave an alert silent for ever.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from diversion_common.credentials import Role
from diversion_common.database import make_engine
from provider_gateway.clients.tables import Client as GatewayClient
from support.credentials import bearer, issue_key
from support.gateway_flows import signed_event
from support.processes import free_port, start_together, wait_for
from support.provider_events import event
from support.referrals import adult_referral
from support.two_services import System, build_system

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "docker/prometheus/alerts.yml"
DASHBOARD = REPO / "docker/grafana/diversion-link.json"
PROVIDER = "Metrics Test Drug Service"


@pytest.fixture(scope="module")
def system(module_fresh_database, tmp_path_factory) -> Iterator[System]:
    referral_inbox, gateway_inbox = free_port(), free_port()
    system = build_system(
        module_fresh_database("referral_api"),
        module_fresh_database("provider_gateway"),
        tmp_path_factory.mktemp("logs"),
        {
            "REFERRAL_API_RELAY_POLL_SECONDS": "0.2",
            "PROVIDER_GATEWAY_RELAY_POLL_SECONDS": "0.2",
            "REFERRAL_API_INTERNAL_PORT": str(referral_inbox),
            "PROVIDER_GATEWAY_INTERNAL_PORT": str(gateway_inbox),
            "REFERRAL_API_GATEWAY_URL": f"http://127.0.0.1:{gateway_inbox}",
            "PROVIDER_GATEWAY_REFERRAL_API_URL": f"http://127.0.0.1:{referral_inbox}",
            # One try: the provider's webhook below refuses connections, so its delivery is dead at once.
            "PROVIDER_GATEWAY_RETRY_MAX_ATTEMPTS": "1",
            "PROVIDER_GATEWAY_DELIVERY_POLL_SECONDS": "0.1",
        },
    )
    start_together(system.referral_api, system.gateway)
    yield system
    system.stop()


def internal_url(system: System, service: str) -> str:
    return f"http://127.0.0.1:{system.env[f'{service.upper()}_INTERNAL_PORT']}"


def scrape(system: System, service: str) -> dict[str, list]:
    """The service's metric families by name (as declared), each with its samples."""
    response = httpx.get(f"{internal_url(system, service)}/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(families: dict[str, list], sample_name: str, **labels: str) -> float | None:
    family = re.sub(r"_(total|bucket|count|sum)$", "", sample_name)
    for sample in families.get(family, []):
        if sample.name == sample_name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


def test_the_public_ports_answer_metrics_as_an_unknown_path(system):
    for service in (system.referral_api, system.gateway):
        for method in ("GET", "HEAD", "POST"):
            for headers in ({}, system.headers("admin"), system.headers("police")):
                response = httpx.request(method, f"{service.url}/metrics", headers=headers)
                assert response.status_code == 404, (service.name, method, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                if method != "HEAD":
                    assert response.json()["status"] == 404
                    assert "diversion_" not in response.text
        schema = httpx.get(f"{service.url}/openapi.json").json()
        assert "/metrics" not in schema["paths"]


def test_the_internal_ports_serve_request_counts_and_latency_by_route_template_and_status(system):
    created = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"))
    assert created.status_code == 201
    case_id = created.json()["id"]
    assert httpx.get(f"{system.referral_api.url}/v1/referrals/{case_id}", headers=system.headers("police")).status_code == 200
    assert httpx.get(f"{system.referral_api.url}/v1/referrals/{uuid.uuid4()}", headers=system.headers("police")).status_code == 404

    families = scrape(system, "referral_api")
    assert value(families, "diversion_http_requests_total", handler="/v1/referrals", method="POST", status="201") >= 1
    # The template, never the case's id; a 404 for a case is counted under the same template.
    assert value(families, "diversion_http_requests_total", handler="/v1/referrals/{case_id}", method="GET", status="200") >= 1
    assert value(families, "diversion_http_requests_total", handler="/v1/referrals/{case_id}", method="GET", status="404") >= 1
    assert value(families, "diversion_http_request_duration_seconds_count", handler="/v1/referrals", method="POST", status="201") >= 1
    assert not any(case_id in str(sample.labels) for samples in families.values() for sample in samples)
    # The other service's calls to the internal inbox are counted too (the routing request went there).
    assert wait_for(lambda: value(scrape(system, "provider_gateway"), "diversion_http_requests_total",
                                  handler="/internal/v1/messages/batch", method="POST", status="200"))
    # A scrape is not a request of the API: it is not counted.
    assert value(families, "diversion_http_requests_total", handler="none", method="GET", status="200") is None


def test_deliveries_circuits_and_provider_events_come_from_the_services_own_records(system):
    dead_end = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: every try is refused
    provider = httpx.post(
        f"{system.gateway.url}/v1/admin/providers",
        json={"name": PROVIDER, "pathways": ["adult_deferred_summons"], "districts": ["reading"], "delivery_mode": "webhook",
              "webhook_url": dead_end, "contact_email": "intake@provider.example"},
        headers=system.headers("admin"),
    )
    assert provider.status_code == 201, provider.text
    created = httpx.post(f"{system.referral_api.url}/v1/referrals", json=adult_referral(), headers=system.headers("police"))
    case_id = created.json()["id"]
    case_url = f"{system.referral_api.url}/v1/referrals/{case_id}"
    assert wait_for(lambda: httpx.get(case_url, headers=system.headers("police")).json()["status"] == "routed")

    def deliveries(state: str) -> float | None:
        return value(scrape(system, "provider_gateway"), "diversion_deliveries", service="provider_gateway", endpoint=PROVIDER, state=state)

    # This case, and any an earlier test left unroutable (routed now that a provider covers it): each tried once, then dead.
    assert wait_for(lambda: deliveries("dead") and not deliveries("pending"), timeout=30), (deliveries("dead"), deliveries("pending"))
    families = scrape(system, "provider_gateway")
    dead = value(families, "diversion_deliveries", endpoint=PROVIDER, state="dead")
    assert value(families, "diversion_deliveries_oldest_age_seconds", endpoint=PROVIDER, state="dead") >= 0
    assert value(families, "diversion_circuit_consecutive_failures", endpoint=PROVIDER) == dead  # a failure each
    assert value(families, "diversion_circuit_state", endpoint=PROVIDER) == 0  # fewer than 5 in a row: still closed
    assert value(families, "diversion_database_metrics_up") == 1

    # The provider answers anyway (it reads its referrals by other means): applied, then refused as a repeat answer.
    engine = make_engine(system.env["PROVIDER_GATEWAY_DATABASE_URL"])
    try:
        key = bearer(issue_key(engine, GatewayClient, Role.provider, provider_id=uuid.UUID(provider.json()["id"])))
    finally:
        engine.dispose()
    for expected in (200, 409):
        raw, headers = signed_event(provider.json()["signing_secret"], event("referral.accepted", case_id))
        response = httpx.post(f"{system.gateway.url}/v1/provider/events", content=raw, headers={**headers, **key})
        assert response.status_code == expected, response.text
    families = scrape(system, "provider_gateway")
    assert value(families, "diversion_provider_events_total", type="referral.accepted", outcome="applied", reason="") == 1
    assert value(families, "diversion_provider_events_total", type="referral.accepted", outcome="refused", reason="already_answered") == 1


def metric_names_used() -> set[str]:
    expressions = [rule["expr"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    dashboard = json.loads(DASHBOARD.read_text())
    expressions += [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    return {name for expression in expressions for name in re.findall(r"\b(diversion_[a-z0-9_]+)", expression)}


def test_every_metric_the_alerts_and_the_dashboard_use_is_exposed(system):
    declared = set(scrape(system, "referral_api")) | set(scrape(system, "provider_gateway"))
    used = metric_names_used()
    assert len(used) >= 10
    # A histogram's or counter's series carry a suffix its family's name does not.
    missing = {name for name in used if name not in declared and re.sub(r"_(total|bucket|count|sum)$", "", name) not in declared}
    assert not missing, f"used by the alerts or the dashboard, never exposed: {sorted(missing)}"
