"""order-service: vehicle orders and their sub-orders (README.md)."""
