from pydantic_settings import BaseSettings, SettingsConfigDict


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
