"""entrypoints layer of order-service."""
