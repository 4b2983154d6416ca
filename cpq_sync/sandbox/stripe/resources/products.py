"""products (routes registered below)."""
