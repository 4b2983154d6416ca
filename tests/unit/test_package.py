import stripe
from stripe._api_version import _ApiVersion


def test_sdk_pins_the_api_version_the_sandbox_emulates() -> None:
    # The sandbox Stripe account is strict to this version; a bump of the SDK must be a deliberate change.
    assert stripe.VERSION == "16.1.0"
    assert _ApiVersion.CURRENT == "2026-10-28.endive"
