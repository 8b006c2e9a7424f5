"""entrypoints layer of recon-service."""
