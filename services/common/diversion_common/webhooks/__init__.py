"""Signed webhook delivery (Standard Webhooks), shared by both services.

The gateway sends referrals to providers with it, referral_api sends case status
changes to police systems: the same delivery rows, retry schedule, circuit
breaker, attempt log, signing secrets and worker. Each service brings its own
tables (from the mixins in ``tables``) and says which endpoints are usable.

Kept empty on purpose: ``policy`` must import without the database modules.
"""
