from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

from diversion_common.webhooks.policy import CircuitPolicy, RetryPolicy
from diversion_common.webhooks.worker import WorkerSettings


class Settings(BaseSettings):
    """referral_api settings, from REFERRAL_API_* environment variables."""

    model_config = SettingsConfigDict(env_prefix="REFERRAL_API_")

    database_url: str = "sqlite:///./var/referral_api.db"
    public_base_url: str = "http://127.0.0.1:8000"
    gateway_url: str = "http://127.0.0.1:8001"
    # The key referral_api presents to the gateway; without it the outbox relay does not run.
    gateway_api_key: str | None = None
    relay_poll_seconds: float = 1.0
    max_body_bytes: int = 64 * 1024
    # A clock a little ahead of ours must not make an encounter "in the future".
    clock_skew_seconds: int = 300
    log_level: str = "INFO"

    # The programme's deadlines (documented defaults; see lifecycle/programme.py).
    adult_completion_weeks: int = 16
    youth_completion_weeks: int = 12
    youth_assessment_working_days: int = 10

    # Notifying police systems of status changes (documented defaults, as the gateway's;
    # see diversion_common/webhooks/policy.py).
    run_delivery_worker: bool = True  # inside the web process
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

    def worker_settings(self) -> WorkerSettings:
        return WorkerSettings(
            timeout_seconds=self.delivery_timeout_seconds,
            per_endpoint_concurrency=self.delivery_per_force_concurrency,
            poll_seconds=self.delivery_poll_seconds,
            lease_seconds=self.delivery_lease_seconds,
            retry=RetryPolicy(self.retry_base_seconds, self.retry_cap_seconds, self.retry_max_attempts),
            circuit=CircuitPolicy(self.circuit_failure_threshold, self.circuit_pause_seconds),
        )


@lru_cache
def get_settings() -> Settings:
    """Settings from the environment, read once (for code with no app at hand)."""
    return Settings()
