"""The billing side of the sandbox Stripe account: schedules, subscriptions, invoice items, invoices, the
clock's
effect on them, and ``billing_preview``. Importing the package registers its routes."""

from cpq_sync.sandbox.stripe.billing import clock, invoices, schedules, subscriptions
from cpq_sync.sandbox.stripe.billing.preview import PreviewInvoice, PreviewLine, billing_preview

__all__ = [
    "PreviewInvoice",
    "PreviewLine",
    "billing_preview",
    "clock",
    "invoices",
    "schedules",
    "subscriptions",
]
