"""adapters layer of ledger-service."""
