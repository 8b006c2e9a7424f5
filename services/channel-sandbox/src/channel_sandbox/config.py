"""Sandbox settings (environment variables; pydantic-settings).

HOST, PORT, KEYS_DIR and OTD_CLUSTER_FILE are the names the launcher passes to every process;
the sandbox's own knobs carry the `SANDBOX_` prefix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT: Final = Path(__file__).resolve().parents[4]
DEFAULT_PORT: Final = 8010
DEFAULT_GATEWAY_URL: Final = "http://127.0.0.1:8003"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


class SandboxSettings(BaseSettings):
    """Everything the sandbox reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=None, extra="ignore", frozen=True, populate_by_name=True
    )

    host: str = Field(default="127.0.0.1", validation_alias=_env("HOST"))
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, validation_alias=_env("PORT"))
    keys_dir: Path = Field(default=REPO_ROOT / "var" / "keys", validation_alias=_env("KEYS_DIR"))
    cluster_file: Path | None = Field(default=None, validation_alias=_env("OTD_CLUSTER_FILE"))
    log_level: str = Field(default="INFO", validation_alias=_env("LOG_LEVEL"))
    log_json: bool = Field(default=True, validation_alias=_env("LOG_JSON"))

    retry_scale: float = Field(
        default=0.01,
        gt=0,
        le=1,
        validation_alias=_env("SANDBOX_RETRY_SCALE"),
        description="Factor applied to every documented retry interval (1 = real schedule).",
    )
    gateway_url: str | None = Field(
        default=None,
        validation_alias=_env("SANDBOX_GATEWAY_URL"),
        description="Base URL of the gateway for default notify URLs; else the cluster file's "
        "payment-gateway entry, else http://127.0.0.1:8003.",
    )
    notify_timeout_s: float = Field(
        default=5.0, gt=0, le=60, validation_alias=_env("SANDBOX_NOTIFY_TIMEOUT_S")
    )
    refund_delay_ms: int = Field(
        default=200,
        ge=0,
        le=600_000,
        validation_alias=_env("SANDBOX_REFUND_DELAY_MS"),
        description="WeChat refunds stay PROCESSING this long before REFUND.SUCCESS.",
    )
    fault_delay_ms: int = Field(
        default=1500,
        ge=0,
        le=600_000,
        validation_alias=_env("SANDBOX_FAULT_DELAY_MS"),
        description="How long a channel with the `timeout` fault waits before answering.",
    )
    order_count_max: int = Field(
        default=100_000, ge=100, validation_alias=_env("SANDBOX_ORDER_COUNT_MAX")
    )
    sap_reject_prefixes: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=_env("SANDBOX_SAP_REJECT_PREFIXES"),
        description='JSON {"<reference prefix>": "<reason>"}: SAP rejects matching documents.',
    )
    secapi_tls_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        validation_alias=_env("SANDBOX_SECAPI_TLS_PORT"),
        description="Serve WeChat's /secapi/ calls (the micropay reverse) over TLS on this "
        "port, requiring the merchant's API client certificate (wechatpay/apiclient_cert.pem); "
        "the plain port then refuses them. Needs SANDBOX_TLS_CERT_FILE and SANDBOX_TLS_KEY_FILE.",
    )
    tls_cert_file: Path | None = Field(
        default=None,
        validation_alias=_env("SANDBOX_TLS_CERT_FILE"),
        description="The TLS listener's own server certificate (PEM).",
    )
    tls_key_file: Path | None = Field(
        default=None,
        validation_alias=_env("SANDBOX_TLS_KEY_FILE"),
        description="The private key of SANDBOX_TLS_CERT_FILE (PEM).",
    )

    @model_validator(mode="after")
    def _tls_listener_has_its_identity(self) -> SandboxSettings:
        if self.secapi_tls_port is not None and not (self.tls_cert_file and self.tls_key_file):
            raise ValueError(
                "SANDBOX_SECAPI_TLS_PORT needs SANDBOX_TLS_CERT_FILE and SANDBOX_TLS_KEY_FILE"
            )
        return self
