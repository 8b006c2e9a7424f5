"""adapters layer of payment-gateway."""
