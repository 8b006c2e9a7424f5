"""entrypoints layer of billing-service."""
