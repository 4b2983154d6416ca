"""The Stripe connection: a real stripe.StripeClient, for the configured account or the sandbox account."""

from __future__ import annotations

import stripe

from cpq_sync.config import Settings, Target

MAX_NETWORK_RETRIES = 4  # the SDK retries 429, 5xx and connection errors with backoff, reusing the idempotency key


def stripe_client(settings: Settings) -> stripe.StripeClient:
    if settings.target is Target.SANDBOX:
        from cpq_sync.sandbox.stripe import connect

        if settings.stripe.api_key is None:
            return connect(settings.runtime.sandbox, max_network_retries=MAX_NETWORK_RETRIES)
        key = settings.stripe.api_key.get_secret_value()
        return connect(settings.runtime.sandbox, max_network_retries=MAX_NETWORK_RETRIES, api_key=key)
    assert settings.stripe.api_key is not None
    return stripe.StripeClient(settings.stripe.api_key.get_secret_value(), max_network_retries=MAX_NETWORK_RETRIES)
