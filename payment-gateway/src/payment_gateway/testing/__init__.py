"""Test helpers of payment-gateway (a local HTTP server playing the channels' server side)."""
