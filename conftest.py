"""Root conftest: real PostgreSQL and broker fixtures for every test directory."""

pytest_plugins = ["otd_shared.testing.plugin"]
