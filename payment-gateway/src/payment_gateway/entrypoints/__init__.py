"""entrypoints layer of payment-gateway."""
