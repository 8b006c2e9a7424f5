"""adapters layer of billing-service."""
