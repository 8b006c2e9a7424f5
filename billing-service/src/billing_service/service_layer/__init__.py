"""service_layer layer of billing-service."""
