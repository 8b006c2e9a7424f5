"""adapters layer of order-service."""
