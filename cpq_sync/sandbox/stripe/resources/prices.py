"""prices (routes registered below)."""
