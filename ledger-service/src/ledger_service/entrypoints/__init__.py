"""entrypoints layer of ledger-service."""
