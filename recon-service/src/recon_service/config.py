"""Settings of recon-service (environment variables, see README)."""

from otd_shared.settings import ServiceSettings


class ReconSettings(ServiceSettings):
    """recon-service settings."""

    service_name: str = "recon-service"
    port: int = 8005
