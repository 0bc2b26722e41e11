"""Short timeouts, leases and back-offs for the services' delivery workers, so that messages go
at once and faults heal in the time a test has (as environment variables for real processes)."""

# referral_api's worker: police, court and YJU callbacks.
FAST_NOTIFICATIONS = {
    "REFERRAL_API_DELIVERY_TIMEOUT_SECONDS": "2",
    "REFERRAL_API_DELIVERY_LEASE_SECONDS": "3",
    "REFERRAL_API_DELIVERY_POLL_SECONDS": "0.05",
    "REFERRAL_API_RETRY_BASE_SECONDS": "0.05",
    "REFERRAL_API_RETRY_CAP_SECONDS": "0.5",
    "REFERRAL_API_LOG_LEVEL": "WARNING",
}

# The gateway's worker: webhooks to providers.
FAST_PROVIDER_DELIVERY = {
    "PROVIDER_GATEWAY_DELIVERY_TIMEOUT_SECONDS": "2",
    "PROVIDER_GATEWAY_DELIVERY_LEASE_SECONDS": "3",
    "PROVIDER_GATEWAY_DELIVERY_POLL_SECONDS": "0.05",
    "PROVIDER_GATEWAY_RETRY_BASE_SECONDS": "0.05",
    "PROVIDER_GATEWAY_RETRY_CAP_SECONDS": "0.5",
    "PROVIDER_GATEWAY_LOG_LEVEL": "WARNING",
}
