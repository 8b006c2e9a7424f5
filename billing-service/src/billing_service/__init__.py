"""billing-service: fund orders, billings, due dates, refunds owed (DESIGN.md §1)."""
