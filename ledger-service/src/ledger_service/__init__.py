"""ledger-service: Double-entry accounts, journals, balances, SAP posting."""
