"""Settings of payment-gateway (environment variables, see docs/payment-gateway.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from otd_shared.channels import ChannelCode
from otd_shared.settings import REPO_ROOT, ServiceSettings
from payment_gateway.adapters.channels.registry import REGISTRY, ChannelRegistry

SANDBOX_URL_DEFAULT: Final = "http://127.0.0.1:8010"
ONLINE_LIMIT_FEN_DEFAULT: Final = 5_000_000  # 50,000.00 CNY per online payment


def _default_stage_channels() -> dict[str, list[str]]:
    online = [str(code) for code in REGISTRY.online()]
    every = [*online, *(str(code) for code in REGISTRY.offline())]
    return {
        "intent": online,
        "firm": every,
        "final": every,
        "service": every,
        "installment": every,
        "payoff": every,
    }


class ChannelSettings(BaseModel):
    """The settings of one channel (which of them a channel takes: ``ChannelSpec.settings``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    base_url: str = ""


def channel_env_names(registry: ChannelRegistry = REGISTRY) -> dict[str, tuple[ChannelCode, str]]:
    """``WECHATPAY_ENABLED`` → (wechatpay, enabled), for every setting of every channel."""
    return {
        spec.env_name(setting): (spec.code, setting)
        for spec in registry
        for setting in spec.settings
    }


class ChannelEnvSource(PydanticBaseSettingsSource):
    """Reads ``<CODE>_ENABLED`` / ``<CODE>_BASE_URL`` of every registered channel into
    ``channels`` (names derived from the registry, not one field per channel)."""

    def __init__(self, settings_cls: type[BaseSettings], registry: ChannelRegistry = REGISTRY):
        super().__init__(settings_cls)
        self._registry = registry

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        environ = {name.upper(): value for name, value in os.environ.items()}
        channels: dict[str, dict[str, str]] = {}
        for env_name, (code, setting) in channel_env_names(self._registry).items():
            if env_name in environ:
                channels.setdefault(str(code), {})[setting] = environ[env_name]
        return {"channels": channels} if channels else {}


class GatewaySettings(ServiceSettings):
    """payment-gateway settings.

    Channel switches and URLs come from the registry: ``<CODE>_ENABLED`` for every channel,
    ``<CODE>_BASE_URL`` for those that call an API (`ChannelEnvSource`), or ``channels``
    (``{"lakala": {"enabled": false}}``). A base URL left empty points at the channel sandbox
    (``CHANNEL_SANDBOX_URL``, or ``http://127.0.0.1:$OTD_PORT_CHANNEL_SANDBOX`` when the
    launcher chose the sandbox port). bootstrap checks at startup that every enabled channel
    has its keys (`channel_config_problems`).
    """

    service_name: str = "payment-gateway"
    port: int = 8003
    keys_dir: Path = REPO_ROOT / "var" / "keys"
    # Pre-ping costs three round trips per checkout (BEGIN; ; ROLLBACK) on the callback hot
    # path; after a database restart the pool invalidates itself on the first error instead.
    db_pool_pre_ping: bool = False

    # --- routing ---------------------------------------------------------------------
    online_single_payment_limit_fen: int = Field(default=ONLINE_LIMIT_FEN_DEFAULT, ge=1)
    channel_limits_fen: dict[ChannelCode, int] = Field(
        default_factory=dict, description="Per-channel online limit overriding the default."
    )
    stage_channels: dict[str, list[str]] = Field(
        default_factory=_default_stage_channels,
        description='Stage → allowed "channel" or "channel:method" entries.',
    )
    channels: dict[ChannelCode, ChannelSettings] = Field(
        default_factory=dict,
        description="Per-channel settings; env <CODE>_ENABLED and <CODE>_BASE_URL fill them.",
    )

    # --- channel endpoints -----------------------------------------------------------
    channel_sandbox_url: str = ""
    otd_port_channel_sandbox: int | None = None
    gateway_public_url: str = Field(
        default="", description="Base of our notify URLs; default http://127.0.0.1:$PORT."
    )
    lakala_term_no: str = Field(
        default="A0000001",
        description="Lakala terminal number when ids.json has no term_no (dev default).",
    )
    channel_connect_timeout_s: float = Field(default=2.0, gt=0, le=30)
    channel_read_timeout_s: float = Field(default=5.0, gt=0, le=60)
    channel_failures_to_open: int = Field(default=5, ge=1, le=1000)
    channel_open_s: float = Field(default=30.0, gt=0, le=3600)

    # --- unknown outcomes ------------------------------------------------------------
    active_query_delay_s: float = Field(default=60.0, ge=0, le=86_400)
    active_query_interval_s_min: float = Field(default=15.0, gt=0, le=86_400)
    active_query_interval_s_max: float = Field(default=600.0, gt=0, le=86_400)
    active_query_attempts_max: int = Field(default=30, ge=1, le=1000)
    payment_expiry_s: int = Field(default=1800, ge=60, le=7 * 86_400)
    refund_query_delay_s: float = Field(default=10.0, ge=0, le=86_400)
    scheduler_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    scheduler_batch_size: int = Field(default=50, ge=1, le=1000)
    scheduler_lease_s: float = Field(default=60.0, gt=0, le=3600)

    # --- callbacks -------------------------------------------------------------------
    callback_max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=1_048_576)
    callback_clock_skew_max_s: int = Field(default=300, ge=1, le=3600)
    callback_db_pool_size: int = Field(default=10, ge=1, le=100)
    callback_deadline_s: float = Field(default=4.0, gt=0, le=30)

    # --- offline money (docs/offline-payments.md) --------------------------------------
    wire_match_rules: list[str] = Field(
        default_factory=lambda: ["last4_exact_amount", "last4_tolerance", "memo_order_id"],
        description="Auto-match rules in order (domain/wires.py).",
    )
    wire_match_tolerance_fen: int = Field(default=0, ge=0, le=100_000)
    wire_claim_approval_threshold_fen: int = Field(
        default=5_000_000, ge=0, description="Manual wire claims above this need finance-approver."
    )
    offline_refund_approval_threshold_fen: int = Field(
        default=5_000_000,
        ge=0,
        description="Offline refund payouts above this need a second person (finance-approver).",
    )
    wire_intake_batch_max: int = Field(default=500, ge=1, le=10_000)
    wire_file_max_bytes: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    order_qr_ttl_s: int = Field(default=1800, ge=60, le=86_400)
    payment_code_wait_s: int = Field(
        default=60,
        ge=5,
        le=600,
        description="How long a payment code the customer is still paying is queried before "
        "it is cancelled at the channel.",
    )
    payment_code_poll_s: float = Field(
        default=3.0, gt=0, le=60, description="First query of a payment code being paid."
    )
    pos_registry_file: Path | None = Field(
        default=None, description="Stores and terminals registered at startup (dev: S001)."
    )
    order_qr_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key of order-QR tokens; empty: var/keys/pos/order_qr.key (made once).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init arguments first, then the per-channel variables, then the usual ones."""
        return (
            init_settings,
            ChannelEnvSource(settings_cls),
            env_settings,
            dotenv_settings,
            file_secret_settings,
        )

    def channel(self, channel: ChannelCode) -> ChannelSettings:
        """The settings of one channel (defaults when none are given)."""
        return self.channels.get(channel) or ChannelSettings()

    def channel_enabled(self, channel: ChannelCode) -> bool:
        """The enable switch of one channel."""
        return self.channel(channel).enabled

    def enabled_channels(self, registry: ChannelRegistry = REGISTRY) -> tuple[ChannelCode, ...]:
        """The enabled channels, in registry order."""
        return tuple(code for code in registry.codes() if self.channel_enabled(code))

    def sandbox_url(self) -> str:
        """Where the channel sandbox listens."""
        if self.channel_sandbox_url:
            return self.channel_sandbox_url.rstrip("/")
        if self.otd_port_channel_sandbox:
            return f"http://127.0.0.1:{self.otd_port_channel_sandbox}"
        return SANDBOX_URL_DEFAULT

    def channel_base_url(self, channel: ChannelCode) -> str:
        """The API base URL of a channel (the sandbox unless configured)."""
        return (self.channel(channel).base_url or self.sandbox_url()).rstrip("/")

    def public_url(self) -> str:
        """Base URL the channels reach us at."""
        return (self.gateway_public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    def notify_url(self, channel: ChannelCode) -> str:
        """Our ``POST /callbacks/<channel>`` as the channel must call it."""
        return f"{self.public_url()}/callbacks/{channel}"

    def online_limit_fen(self, channel: ChannelCode) -> int:
        """The single-payment online limit of a channel."""
        return self.channel_limits_fen.get(channel, self.online_single_payment_limit_fen)
