"""A treatment provider's webhook endpoint: the generic fake receiver under the name provider tests use."""

from support.webhook_receiver import Answer, Received, WebhookReceiver, received_payloads

FakeProvider = WebhookReceiver

__all__ = ["Answer", "FakeProvider", "Received", "received_payloads"]
