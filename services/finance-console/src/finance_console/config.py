"""Console settings (environment variables), with the files the launcher writes locally."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from otd_shared.settings import REPO_ROOT

SESSION_MAX_AGE_S = 8 * 3600
UPLOAD_MAX_BYTES = 64 * 1024 * 1024
SERVICE_TIMEOUT_S = 30.0


class ConsoleSettings(BaseSettings):
    """Where the services, their tokens and the console users are; session and upload limits."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    otd_cluster_file: Path | None = None
    auth_tokens_file: Path = REPO_ROOT / "var" / "dev-tokens.json"
    auth_tokens_json: SecretStr | None = None
    console_users_file: Path = REPO_ROOT / "var" / "console-users.json"
    console_users_json: SecretStr | None = None
    console_session_secret: SecretStr | None = Field(
        default=None,
        description="Key that signs session cookies; unset: a random key per process "
        "(sessions end when the console restarts; set it when running several replicas).",
    )
    console_cookie_secure: bool = Field(
        default=False, description="Send the session cookie over HTTPS only (production)."
    )
    session_max_age_s: int = Field(default=SESSION_MAX_AGE_S, ge=60, le=7 * 24 * 3600)
    upload_max_bytes: int = Field(default=UPLOAD_MAX_BYTES, ge=1024)
    service_timeout_s: float = Field(default=SERVICE_TIMEOUT_S, gt=0, le=600)
    log_level: str = "INFO"
    log_json: bool = True

    def service_urls(self) -> dict[str, str]:
        """Service name → base URL from the cluster file; empty when there is none."""
        path = self.otd_cluster_file
        if path is None or not path.is_file():
            return {}
        services = json.loads(path.read_text()).get("services", {})
        return {str(k): str(v) for k, v in services.items() if k != "finance-console"}

    def service_tokens(self) -> dict[str, str]:
        """Role → bearer token the console uses towards the services (never sent out)."""
        if self.auth_tokens_json is not None:
            raw = self.auth_tokens_json.get_secret_value()
        elif self.auth_tokens_file.is_file():
            raw = self.auth_tokens_file.read_text()
        else:
            return {}
        return {str(role): str(token) for role, token in json.loads(raw).items()}

    def console_users(self) -> dict[str, dict[str, str]]:
        """``{"<role>": {"username", "password"}}`` (README.md)."""
        if self.console_users_json is not None:
            raw = self.console_users_json.get_secret_value()
        elif self.console_users_file.is_file():
            raw = self.console_users_file.read_text()
        else:
            return {}
        data = json.loads(raw)
        return {str(role): {str(k): str(v) for k, v in user.items()} for role, user in data.items()}
