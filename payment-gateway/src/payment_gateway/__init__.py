"""payment-gateway: payments, channel routing, channel adapters, callbacks, POS/cash/wire."""
