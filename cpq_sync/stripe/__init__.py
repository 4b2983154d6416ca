"""The sync's Stripe side: parameter checking against the SDK's pinned API version (``param_types``)."""
