"""service_layer layer of recon-service."""
