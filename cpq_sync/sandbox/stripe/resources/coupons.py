"""coupons (routes registered below)."""
