"""service_layer layer of ledger-service."""
