"""billing-service: fund orders, billings, due dates, refunds owed (README.md)."""
