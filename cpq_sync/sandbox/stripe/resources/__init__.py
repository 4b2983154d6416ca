"""Core resources of the sandbox account; importing this package registers their routes."""

from cpq_sync.sandbox.stripe.resources import coupons, customers, meters, prices, products

__all__ = ["coupons", "customers", "meters", "prices", "products"]
