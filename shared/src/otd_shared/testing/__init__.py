"""Test support: a pytest plugin with real PostgreSQL and the real broker."""
