"""The wire channel (offline).

Arrives through the bank link (POST /v1/wires); no keys, no notifications.
"""
