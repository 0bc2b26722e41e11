"""docker/compose.yaml, as docker-compose reads it: valid, and deployed the way the README says.

The database on a named volume and an internal network; a migration that runs first; the
loops in containers of their own; a health check everywhere; the internal inboxes only on
the internal network, never published; every secret from a file, none written in the file.
"""

from __future__ import annotations

import re
import subprocess
from urllib.parse import urlsplit

import pytest

from provider_gateway.config import Settings as GatewaySettings
from referral_api.config import Settings as ReferralSettings
from support.deployment import COMPOSE_FILE, docker_compose, compose_config
from support.processes import REPO

pytestmark = pytest.mark.database_independent

WEB = ("referral_api", "provider_gateway")
SETTINGS = {prefix + name.upper() for prefix, settings in (("REFERRAL_API_", ReferralSettings), ("PROVIDER_GATEWAY_", GatewaySettings)) for name in settings.model_fields}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY|DATABASE_URL", re.IGNORECASE)


@pytest.fixture(scope="module")
def config() -> dict:
    return compose_config()


def test_docker_compose_finds_the_file_valid():
    checked = docker_compose("config", "-q")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == ""


def test_every_long_running_service_has_a_health_check(config):
    services = config["services"]
    assert set(services) == {"postgres", "migrate", *WEB, "gateway_worker", "scheduler"}
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name == "migrate":  # a one-off: what follows waits for it to complete, not to be healthy
            assert check.get("disable") is True or check.get("test") == ["NONE"]  # as docker-compose v1 writes it
            continue
        if name in WEB:  # the image's own HEALTHCHECK (/health/ready), not overridden
            assert check == {}, name
            continue
        assert check["test"][0] == "CMD" and len(check["test"]) > 1, name


def test_the_database_is_healthy_and_migrated_before_anything_uses_it(config):
    services = config["services"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in (*WEB, "gateway_worker", "scheduler"):
        assert services[name]["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "migrate": {"condition": "service_completed_successfully"},
        }, name


def test_the_loops_run_in_containers_of_their_own(config):
    services = config["services"]
    assert services["provider_gateway"]["environment"]["PROVIDER_GATEWAY_RUN_DELIVERY_WORKER"] == "false"
    assert services["referral_api"]["environment"]["REFERRAL_API_RUN_BREACH_SCHEDULER"] == "false"
    assert services["gateway_worker"]["command"][:2] == ["diversion-link", "gateway-worker"]
    assert services["scheduler"]["command"][:2] == ["diversion-link", "scheduler"]
    assert services["migrate"]["command"] == ["diversion-link", "migrate"]


def test_postgres_keeps_its_data_on_a_named_volume(config):
    (mount,) = config["services"]["postgres"]["volumes"]
    assert (mount["type"], mount["source"], mount["target"]) == ("volume", "postgres-data", "/var/lib/postgresql/data")
    assert "postgres-data" in config["volumes"]


def test_the_internal_inboxes_listen_on_the_internal_network_only_and_are_never_published(config):
    services, networks = config["services"], config["networks"]
    internal_networks = {name for name, network in networks.items() if network.get("internal")}
    assert internal_networks
    internal_ports = {services[name]["environment"][f"{name.upper()}_INTERNAL_PORT"] for name in WEB}
    for name, service in services.items():
        published = {str(port["published"]) for port in service.get("ports", [])}
        targets = {str(port["target"]) for port in service.get("ports", [])}
        assert not (published | targets) & internal_ports, name
        if name not in WEB:
            assert not published, name  # only the two public APIs are published
    for name in WEB:
        host = services[name]["environment"][f"{name.upper()}_INTERNAL_HOST"]
        # The listener binds the address its host name has: an alias on internal networks only.
        on = {network for network, joined in services[name]["networks"].items() if host in ((joined or {}).get("aliases") or [])}
        assert on and on <= internal_networks, name
        for other, service in services.items():
            for network, joined in (service.get("networks") or {}).items():
                if other != name:
                    assert host not in ((joined or {}).get("aliases") or []), (other, network)
    # Each relay calls the other's internal inbox by that name.
    assert urlsplit(services["referral_api"]["environment"]["REFERRAL_API_GATEWAY_URL"]).hostname == services["provider_gateway"]["environment"]["PROVIDER_GATEWAY_INTERNAL_HOST"]
    assert urlsplit(services["provider_gateway"]["environment"]["PROVIDER_GATEWAY_REFERRAL_API_URL"]).hostname == services["referral_api"]["environment"]["REFERRAL_API_INTERNAL_HOST"]
    assert set(services["postgres"]["networks"]) <= internal_networks
    assert set(services["scheduler"]["networks"]) <= internal_networks


def test_no_secret_is_written_in_the_file_and_each_comes_from_a_secrets_file(config):
    secrets_folder = REPO / "docker" / "secrets"
    for name, secret in config["secrets"].items():
        assert set(secret) == {"file"}, name
        assert secret["file"] == str(secrets_folder / name)
    for name, service in config["services"].items():
        for variable, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(variable):
                assert variable.endswith("_FILE") and str(value).startswith("/run/secrets/"), (name, variable)
        for mounted in service.get("secrets", []):
            # Named as the setting it holds (diversion_common/settings.py reads /run/secrets/<setting>).
            assert mounted["source"].upper() in SETTINGS or name == "postgres", mounted
    ignored = subprocess.run(["git", "check-ignore", "-q", "docker/secrets/any"], cwd=REPO)
    assert ignored.returncode == 0, "docker/secrets/ must be git-ignored"
    text = COMPOSE_FILE.read_text()
    assert "POSTGRES_PASSWORD:" not in text


def test_each_container_gets_the_secrets_it_needs_and_no_others(config):
    services = config["services"]

    def mounted(name: str) -> set[str]:
        return {secret["source"] for secret in services[name].get("secrets", [])}

    assert mounted("postgres") == {"postgres_password"}
    assert mounted("migrate") == {"referral_api_database_url", "provider_gateway_database_url"}
    assert mounted("referral_api") == {"referral_api_database_url", "referral_api_secrets_keys", "referral_api_gateway_api_key"}
    assert mounted("provider_gateway") == {"provider_gateway_database_url", "provider_gateway_secrets_keys", "provider_gateway_referral_api_key"}
    assert mounted("gateway_worker") == {"provider_gateway_database_url", "provider_gateway_secrets_keys"}
    assert mounted("scheduler") == {"referral_api_database_url"}
