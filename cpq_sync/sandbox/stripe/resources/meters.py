"""meters (routes registered below)."""
