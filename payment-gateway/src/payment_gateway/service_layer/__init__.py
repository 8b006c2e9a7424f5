"""service_layer layer of payment-gateway."""
