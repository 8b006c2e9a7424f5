"""The discount channel (offline).

A marketing-funded instant discount drawn by the gateway; no keys, no notifications.
"""
