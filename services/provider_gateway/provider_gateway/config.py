from functools import lru_cache
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from diversion_common.abuse_limits import AbuseLimitSettings
from diversion_common.internal_listener import InternalListener
from diversion_common.settings import DatabaseUrl, LogLevel

if TYPE_CHECKING:
    from diversion_common.webhooks.worker import WorkerSettings


SECRETS_KEYS = "PROVIDER_GATEWAY_SECRETS_KEYS"  # the setting below, as the encrypted columns name it


class Settings(AbuseLimitSettings):
    """provider_gateway settings, from PROVIDER_GATEWAY_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="PROVIDER_GATEWAY_")

    database_url: DatabaseUrl = "sqlite:///./var/provider_gateway.db"
    public_base_url: str = "http://127.0.0.1:8001"
    referral_api_url: str = "http://127.0.0.1:8000"
    # The internal inbox's own listener (docs/SECURITY.md, item 10). Set, /internal/ is served
    # only on this port (by the same process) and the public port answers it with 404.
    internal_port: int | None = Field(default=None, ge=1, le=65535)
    internal_host: str = "127.0.0.1"  # 0.0.0.0 in a container, on a network the public cannot reach
    # The key the gateway presents to referral_api; without it the outbox relay does not run.
    referral_api_key: str | None = None
    relay_poll_seconds: float = 1.0
    max_body_bytes: int = 64 * 1024
    log_level: LogLevel = "INFO"

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
    # Webhooks to this machine (loopback) and over plain http: for local runs and tests only.
    # Off, a URL must be https to a public address, checked when saved and at every delivery.
    allow_loopback_webhooks: bool = False

    # Personal data at rest (docs/SECURITY.md, item 8). The keys the providers' signing secrets
    # are encrypted with: comma-separated Fernet keys, the first encrypts (required to serve).
    secrets_keys: SecretStr | None = None
    # What the gateway still holds about an ended case is erased this long after it ended
    # (`diversion-link retention purge`; provider_gateway/privacy/retention.py).
    retention_days: int = Field(default=365, ge=1)
    # ...by the service itself, once a day at this hour (UTC), besides any operator's run.
    run_retention_scheduler: bool = True
    retention_hour_utc: int = Field(default=3, ge=0, le=23)

    def internal_listener(self) -> InternalListener | None:
        return InternalListener(self.internal_host, self.internal_port) if self.internal_port else None

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
            allow_loopback=self.allow_loopback_webhooks,
        )


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once (for code with no app at hand)."""
    return Settings()
