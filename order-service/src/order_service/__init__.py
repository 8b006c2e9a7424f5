"""order-service: vehicle orders and their sub-orders (DESIGN.md §1)."""
