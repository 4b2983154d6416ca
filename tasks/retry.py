"""The one retry policy of the Prefect tasks: exponential backoff with jitter, for transient errors only.

A data error is never retried (it becomes a Sync Record); rate limits, 5xx, timeouts, connection and lock errors
are. The SDKs retry single requests first; this policy retries a whole step that still failed.
"""

from __future__ import annotations

from typing import Any

import requests
import stripe
from prefect.tasks import exponential_backoff

from cpq_sync.salesforce.client import is_transient

RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5

TRANSIENT_STRIPE = (stripe.RateLimitError, stripe.APIConnectionError, stripe.APIError)


def transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_STRIPE):
        return True
    if isinstance(exc, requests.ConnectionError | requests.Timeout):
        return True
    return is_transient(exc)


def retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except BaseException as exc:
        return transient(exc)
    return False


RETRY_OPTIONS: dict[str, Any] = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": retry_transient_only,
}
