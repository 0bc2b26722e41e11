from pydantic_settings import BaseSettings, SettingsConfigDict


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
