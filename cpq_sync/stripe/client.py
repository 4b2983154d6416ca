"""The Stripe connection: a real stripe.StripeClient, for the configured account or the sandbox account."""

from __future__ import annotations

import stripe

from cpq_sync.config import Settings, Target
from cpq_sync.stripe.pacing import PacedHTTPClient, Pacer

MAX_NETWORK_RETRIES = 4  # the SDK retries 429, 5xx and connection errors with backoff, reusing the idempotency key


def stripe_client(settings: Settings, pacer: Pacer | None = None) -> stripe.StripeClient:
    """`pacer`: every request the client sends (the SDK's retries included) waits for its slot."""
    inner: stripe.HTTPClient
    if settings.target is Target.SANDBOX:
        from cpq_sync.sandbox.stripe import API_KEY, SandboxHTTPClient

        key = settings.stripe.api_key
        api_key = API_KEY if key is None else key.get_secret_value()
        inner = SandboxHTTPClient(settings.runtime.sandbox)
    else:
        assert settings.stripe.api_key is not None
        api_key, inner = settings.stripe.api_key.get_secret_value(), stripe.new_default_http_client()
    return stripe.StripeClient(
        api_key, http_client=PacedHTTPClient(inner, pacer), max_network_retries=MAX_NETWORK_RETRIES
    )
