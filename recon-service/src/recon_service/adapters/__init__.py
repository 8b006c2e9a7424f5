"""adapters layer of recon-service."""
