"""The gateway's domain: payments, refunds, routing, channel health (plain Python, no I/O)."""
