"""The cash channel (offline).

Recorded by the store cashier (POST /v1/cash-receipts); no keys, no notifications.
"""
