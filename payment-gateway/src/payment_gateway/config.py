"""Settings of payment-gateway (environment variables, see docs/payment-gateway.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import Field

from otd_shared.settings import REPO_ROOT, ServiceSettings

CHANNELS: Final = ("wechatpay", "alipay", "lakala", "unionpay", "allinpay")
SANDBOX_URL_DEFAULT: Final = "http://127.0.0.1:8010"
ONLINE_LIMIT_FEN_DEFAULT: Final = 5_000_000  # 50,000.00 CNY per online payment
ALL_CHANNELS_AND_OFFLINE: Final = (*CHANNELS, "cash", "wire")


def _default_stage_channels() -> dict[str, list[str]]:
    online = ["wechatpay", "alipay", "lakala"]
    every = list(ALL_CHANNELS_AND_OFFLINE)
    return {
        "intent": online,
        "firm": every,
        "final": every,
        "service": every,
        "installment": every,
        "payoff": every,
    }


class GatewaySettings(ServiceSettings):
    """payment-gateway settings.

    Channel switches and URLs are one field per channel (``WECHATPAY_ENABLED``,
    ``WECHATPAY_BASE_URL`` ...). A base URL left empty points at the channel sandbox
    (``CHANNEL_SANDBOX_URL``, or ``http://127.0.0.1:$OTD_PORT_CHANNEL_SANDBOX`` when the
    launcher chose the sandbox port).
    """

    service_name: str = "payment-gateway"
    port: int = 8003
    keys_dir: Path = REPO_ROOT / "var" / "keys"
    # Pre-ping costs three round trips per checkout (BEGIN; ; ROLLBACK) on the callback hot
    # path; after a database restart the pool invalidates itself on the first error instead.
    db_pool_pre_ping: bool = False

    # --- routing ---------------------------------------------------------------------
    online_single_payment_limit_fen: int = Field(default=ONLINE_LIMIT_FEN_DEFAULT, ge=1)
    channel_limits_fen: dict[str, int] = Field(
        default_factory=dict, description="Per-channel online limit overriding the default."
    )
    stage_channels: dict[str, list[str]] = Field(
        default_factory=_default_stage_channels,
        description='Stage → allowed "channel" or "channel:method" entries.',
    )
    wechatpay_enabled: bool = True
    alipay_enabled: bool = True
    lakala_enabled: bool = True
    unionpay_enabled: bool = True
    allinpay_enabled: bool = True

    # --- channel endpoints -----------------------------------------------------------
    channel_sandbox_url: str = ""
    otd_port_channel_sandbox: int | None = None
    wechatpay_base_url: str = ""
    alipay_base_url: str = ""
    lakala_base_url: str = ""
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

    def channel_enabled(self, channel: str) -> bool:
        """The enable switch of one channel."""
        switches = {
            "wechatpay": self.wechatpay_enabled,
            "alipay": self.alipay_enabled,
            "lakala": self.lakala_enabled,
            "unionpay": self.unionpay_enabled,
            "allinpay": self.allinpay_enabled,
        }
        return switches.get(channel, channel in ("cash", "wire"))

    def enabled_channels(self) -> tuple[str, ...]:
        """The enabled channels among the five with keys and adapters."""
        return tuple(c for c in CHANNELS if self.channel_enabled(c))

    def sandbox_url(self) -> str:
        """Where the channel sandbox listens."""
        if self.channel_sandbox_url:
            return self.channel_sandbox_url.rstrip("/")
        if self.otd_port_channel_sandbox:
            return f"http://127.0.0.1:{self.otd_port_channel_sandbox}"
        return SANDBOX_URL_DEFAULT

    def channel_base_url(self, channel: str) -> str:
        """The API base URL of a channel (the sandbox unless configured)."""
        configured = {
            "wechatpay": self.wechatpay_base_url,
            "alipay": self.alipay_base_url,
            "lakala": self.lakala_base_url,
        }.get(channel, "")
        return (configured or self.sandbox_url()).rstrip("/")

    def public_url(self) -> str:
        """Base URL the channels reach us at."""
        return (self.gateway_public_url or f"http://127.0.0.1:{self.port}").rstrip("/")

    def notify_url(self, channel: str) -> str:
        """Our ``POST /callbacks/<channel>`` as the channel must call it."""
        return f"{self.public_url()}/callbacks/{channel}"

    def online_limit_fen(self, channel: str) -> int:
        """The single-payment online limit of a channel."""
        return self.channel_limits_fen.get(channel, self.online_single_payment_limit_fen)
