"""The loan channel (offline).

Principal paid by the lender, announced by billing-service; no keys, no notifications.
"""
