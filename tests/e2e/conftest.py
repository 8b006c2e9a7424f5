"""e2e tests use ``running_cluster`` and ``http`` from otd_shared.testing.cluster."""
