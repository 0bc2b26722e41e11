from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from diversion_common.abuse_limits import AbuseLimitSettings
from diversion_common.internal_listener import InternalListener
from diversion_common.settings import DatabaseUrl, LogLevel
from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from diversion_common.webhooks.worker import WorkerSettings


SECRETS_KEYS = "REFERRAL_API_SECRETS_KEYS"  # the setting below, as the encrypted columns name it


class Settings(AbuseLimitSettings):
    """referral_api settings, from REFERRAL_API_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="REFERRAL_API_")

    database_url: DatabaseUrl = "sqlite:///./var/referral_api.db"
    public_base_url: str = "http://127.0.0.1:8000"
    gateway_url: str = "http://127.0.0.1:8001"
    # The key referral_api presents to the gateway; without it the outbox relay does not run.
    gateway_api_key: str | None = None
    relay_poll_seconds: float = 1.0
    max_body_bytes: int = 64 * 1024
    # A clock a little ahead of ours must not make an encounter "in the future".
    clock_skew_seconds: int = 300
    # The internal inbox's own listener (docs/SECURITY.md, item 10). Set, /internal/ is served
    # only on this port (by the same process) and the public port answers it with 404.
    internal_port: int | None = Field(default=None, ge=1, le=65535)
    internal_host: str = "127.0.0.1"  # 0.0.0.0 in a container, on a network the public cannot reach
    log_level: LogLevel = "INFO"

    # The programme's deadlines (documented defaults; see lifecycle/programme.py).
    adult_completion_weeks: int = 16
    youth_completion_weeks: int = 12
    youth_assessment_working_days: int = 10

    # Notifying police systems of status changes (documented defaults, as the gateway's;
    # see diversion_common/webhooks/policy.py).
    run_delivery_worker: bool = True  # inside the web process
    # The time-based breach rules (breaches/scheduler.py): checked this often inside the web process.
    run_breach_scheduler: bool = True
    breach_check_seconds: float = Field(default=60.0, gt=0)
    delivery_timeout_seconds: float = 10.0
    delivery_per_force_concurrency: int = 4
    delivery_poll_seconds: float = 0.5
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

    # Personal data at rest (docs/SECURITY.md, item 8). The keys the police callbacks' signing
    # secrets are encrypted with: comma-separated Fernet keys, the first encrypts (required to serve).
    secrets_keys: SecretStr | None = None
    # An ended case's personal data is erased this long after its last recorded fact, leaving a
    # content-free record (`diversion-link retention purge`; referral_api/privacy/retention.py).
    retention_days: int = Field(default=365, ge=1)
    # ...by the service itself, once a day at this hour (UTC), besides any operator's run.
    run_retention_scheduler: bool = True
    retention_hour_utc: int = Field(default=3, ge=0, le=23)

    def internal_listener(self) -> InternalListener | None:
        return InternalListener(self.internal_host, self.internal_port) if self.internal_port else None

    def worker_settings(self) -> WorkerSettings:
        return WorkerSettings(
            timeout_seconds=self.delivery_timeout_seconds,
            per_endpoint_concurrency=self.delivery_per_force_concurrency,
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
