from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from diversion_common.webhooks.worker import WorkerSettings


class Settings(BaseSettings):
    """provider_gateway settings, from PROVIDER_GATEWAY_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_GATEWAY_")

    database_url: str = "sqlite:///./var/provider_gateway.db"
    public_base_url: str = "http://127.0.0.1:8001"
    referral_api_url: str = "http://127.0.0.1:8000"
    # The key the gateway presents to referral_api; without it the outbox relay does not run.
    referral_api_key: str | None = None
    relay_poll_seconds: float = 1.0
    max_body_bytes: int = 64 * 1024
    log_level: str = "INFO"

    # Delivery to providers (documented defaults; see diversion_common/webhooks/policy.py).
    run_delivery_worker: bool = True  # inside the web process; set false when workers run apart
    delivery_timeout_seconds: float = 10.0
    delivery_per_provider_concurrency: int = 4
    delivery_poll_seconds: float = 0.1
    # How long a claimed delivery is reserved for its worker; by default twice the timeout plus 5 s.
    delivery_lease_seconds: float | None = None
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 2 * 60 * 60
    retry_max_attempts: int = 24
    circuit_failure_threshold: int = 5
    circuit_pause_seconds: float = 30.0
    secret_rotation_overlap_hours: float = 24.0

    def worker_settings(self) -> "WorkerSettings":
        from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
        from diversion_common.webhooks.worker import WorkerSettings

        return WorkerSettings(
            timeout_seconds=self.delivery_timeout_seconds,
            per_endpoint_concurrency=self.delivery_per_provider_concurrency,
            poll_seconds=self.delivery_poll_seconds,
            lease_seconds=self.delivery_lease_seconds,
            retry=RetryPolicy(self.retry_base_seconds, self.retry_cap_seconds, self.retry_max_attempts),
            circuit=CircuitPolicy(self.circuit_failure_threshold, self.circuit_pause_seconds),
        )


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once (for code with no app at hand)."""
    return Settings()
