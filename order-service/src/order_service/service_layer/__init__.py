"""service_layer layer of order-service."""
