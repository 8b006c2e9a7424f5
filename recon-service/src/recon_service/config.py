"""Settings of recon-service (environment variables, see docs/recon.md)."""

from __future__ import annotations

import os
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Final

from pydantic import Field, SecretStr, field_validator

from otd_shared.settings import REPO_ROOT, ServiceSettings
from recon_service.domain.adjustments import AgeingPolicy
from recon_service.domain.fetch import FetchPolicy
from recon_service.domain.recon import AMOUNT_TIME_SOURCES_DEFAULT, ReconPolicy, rate_ppm
from recon_service.domain.statement import StatementLimits

MIB = 1024 * 1024
STATEMENT_MAX_FILE_BYTES_DEFAULT = 64 * MIB
MULTIPART_OVERHEAD_BYTES = MIB  # form fields and part headers around the file
SANDBOX_URL_DEFAULT: Final = "http://127.0.0.1:8010"
GATEWAY_PORT_DEFAULT: Final = 8003
FETCH_SOURCES_DEFAULT: Final = ("wechatpay", "lakala", "unionpay")
SETTLEMENT_PAYERS_DEFAULT: Final = (
    ("wechatpay", "财付通支付科技有限公司"),
    ("alipay", "支付宝（中国）网络技术有限公司"),
    ("lakala", "拉卡拉支付股份有限公司"),
    ("unionpay", "中国银联股份有限公司"),
    ("allinpay", "通联支付网络服务股份有限公司"),
)


class ReconSettings(ServiceSettings):
    """recon-service settings; sizes in bytes, durations with their unit in the name."""

    service_name: str = "recon-service"
    port: int = 8005
    # The whole request may carry one statement file plus the form around it.
    max_request_body_bytes: int = Field(
        default=STATEMENT_MAX_FILE_BYTES_DEFAULT + MULTIPART_OVERHEAD_BYTES, ge=1024
    )
    statement_max_file_bytes: int = Field(default=STATEMENT_MAX_FILE_BYTES_DEFAULT, ge=1024)
    statement_max_unpacked_bytes: int = Field(default=512 * MIB, ge=1024)
    statement_max_lines: int = Field(default=2_000_000, ge=1, le=50_000_000)
    statement_max_line_bytes: int = Field(default=8 * 1024, ge=256, le=1 * MIB)
    statement_max_unpack_ratio: int = Field(default=24, ge=1, le=1_000)
    statement_max_parse_s: float = Field(default=120.0, gt=0, le=3_600)
    statement_copy_batch_lines: int = Field(default=5_000, ge=1, le=100_000)
    recon_carry_over_days: int = Field(default=3, ge=0, le=31)
    recon_cut_grace_s: int = Field(default=3_600, ge=0, le=12 * 3_600)
    recon_amount_tolerance_fen: dict[str, int] = Field(
        default_factory=dict, description="Source → amount tolerance in fen (none by default)."
    )
    recon_amount_time_sources: list[str] = Field(
        default_factory=lambda: sorted(AMOUNT_TIME_SOURCES_DEFAULT),
        description="Sources whose lines no id pairs are paired by equal amount in a window.",
    )
    recon_amount_time_window_s: int = Field(default=24 * 3_600, ge=0, le=7 * 24 * 3_600)
    recon_fee_rates: dict[str, dict[str, Decimal]] = Field(
        default_factory=dict,
        description="Source → payment method → contracted fee rate as a fraction (0.006).",
    )

    # --- the 14:30 daily job: statement downloads, then reconciliation ---------------
    keys_dir: Path = REPO_ROOT / "var" / "keys"
    channel_sandbox_url: str = ""
    otd_port_channel_sandbox: int | None = None
    wechatpay_base_url: str = ""
    lakala_base_url: str = ""
    unionpay_file_url: str = Field(
        default="", description="UnionPay file transfer URL; default the sandbox's."
    )
    fetch_sources: list[str] = Field(default_factory=lambda: list(FETCH_SOURCES_DEFAULT))
    fetch_attempts: int = Field(default=4, ge=1, le=20)
    fetch_backoff_ms: int = Field(default=2_000, ge=0, le=600_000)
    fetch_timeout_s: float = Field(default=30.0, gt=0, le=600)
    fetch_at_local: time = Field(default=time(14, 30), description="Asia/Shanghai.")
    statement_late_after_local: time = Field(
        default=time(16, 0), description="Asia/Shanghai, the day after the statement's day."
    )
    statement_archive_dir: Path | None = None
    daily_job_enabled: bool = Field(
        default=True, description="Run the daily job in this process (make run)."
    )
    daily_job_poll_s: float = Field(default=60.0, gt=0, le=3_600)
    daily_job_retry_s: float = Field(default=900.0, gt=0, le=86_400)

    # --- adjustments and ageing ---------------------------------------------------
    adjustment_approval_threshold_fen: int = Field(
        default=1_000_000,
        ge=0,
        description="Adjustments above this (10,000.00 CNY) need a second finance-approver.",
    )
    ageing_critical_fen: int = Field(default=10_000_000, ge=1)
    ageing_critical_age_days: int = Field(default=5, ge=0, le=365)
    ageing_high_fen: int = Field(default=1_000_000, ge=1)
    ageing_high_age_days: int = Field(default=2, ge=0, le=365)

    # --- accept_channel: the payment corrected through the gateway -----------------------
    gateway_url: str = Field(default="", description="payment-gateway; default local 8003.")
    otd_port_payment_gateway: int | None = None
    gateway_token: SecretStr | None = Field(
        default=None, description="Bearer token of role service; default the tokens file's."
    )
    gateway_timeout_s: float = Field(default=10.0, gt=0, le=120)

    # --- settlement to our bank ------------------------------------------------------
    settlement_payer_names: dict[str, str] = Field(
        default_factory=lambda: dict(SETTLEMENT_PAYERS_DEFAULT),
        description="Channel → the payer name its settlements show on our bank statement.",
    )
    settlement_lag_days: int = Field(default=1, ge=0, le=30)

    def ageing_policy(self) -> AgeingPolicy:
        """The named thresholds of the ageing priorities."""
        return AgeingPolicy(
            critical_fen=self.ageing_critical_fen,
            critical_age_days=self.ageing_critical_age_days,
            high_fen=self.ageing_high_fen,
            high_age_days=self.ageing_high_age_days,
        )

    def gateway_base_url(self) -> str:
        """Where payment-gateway listens."""
        if self.gateway_url:
            return self.gateway_url.rstrip("/")
        return f"http://127.0.0.1:{self.otd_port_payment_gateway or GATEWAY_PORT_DEFAULT}"

    def gateway_bearer(self) -> str | None:
        """recon's service token for the gateway (GATEWAY_TOKEN, else the tokens file's)."""
        if self.gateway_token is not None:
            return self.gateway_token.get_secret_value()
        by_role = {role: token for token, role in self.tokens_by_value().items()}
        return by_role.get("service")

    def sandbox_url(self) -> str:
        """Where the channel sandbox listens."""
        if self.channel_sandbox_url:
            return self.channel_sandbox_url.rstrip("/")
        if self.otd_port_channel_sandbox:
            return f"http://127.0.0.1:{self.otd_port_channel_sandbox}"
        return SANDBOX_URL_DEFAULT

    def bill_url(self, source: str) -> str:
        """The base (WeChat, Lakala) or endpoint (UnionPay) of a channel's download API."""
        if source == "unionpay":
            return self.unionpay_file_url or f"{self.sandbox_url()}/unionpay/file-transfer"
        configured = {"wechatpay": self.wechatpay_base_url, "lakala": self.lakala_base_url}
        return (configured.get(source) or self.sandbox_url()).rstrip("/")

    def archive_dir(self) -> Path:
        """Where raw downloads are kept (``OTD_VAR_DIR/recon-archive`` by default)."""
        if self.statement_archive_dir is not None:
            return self.statement_archive_dir
        return Path(os.environ.get("OTD_VAR_DIR", REPO_ROOT / "var")) / "recon-archive"

    def fetch_policy(self) -> FetchPolicy:
        """Retries and the schedule of the daily job."""
        return FetchPolicy(
            attempts=self.fetch_attempts,
            backoff_ms=self.fetch_backoff_ms,
            fetch_at=self.fetch_at_local,
            late_after=self.statement_late_after_local,
        )

    @field_validator("recon_fee_rates")
    @classmethod
    def _rates_in_ppm(cls, rates: dict[str, dict[str, Decimal]]) -> dict[str, dict[str, Decimal]]:
        for methods in rates.values():
            for rate in methods.values():
                rate_ppm(rate)  # a rate not in whole ppm between 0 and 1 refuses the settings
        return rates

    def recon_policy(self) -> ReconPolicy:
        """How internal records near the day cut carry over."""
        return ReconPolicy(
            carry_over_days=self.recon_carry_over_days,
            cut_grace=timedelta(seconds=self.recon_cut_grace_s),
            amount_tolerance_fen=dict(self.recon_amount_tolerance_fen),
            amount_time_sources=frozenset(self.recon_amount_time_sources),
            amount_time_window=timedelta(seconds=self.recon_amount_time_window_s),
            fee_rate_ppm={
                source: {method: rate_ppm(rate) for method, rate in methods.items()}
                for source, methods in self.recon_fee_rates.items()
            },
        )

    def statement_limits(self) -> StatementLimits:
        """The named limits every statement parse runs under."""
        return StatementLimits(
            max_file_bytes=self.statement_max_file_bytes,
            max_unpacked_bytes=self.statement_max_unpacked_bytes,
            max_lines=self.statement_max_lines,
            max_line_bytes=self.statement_max_line_bytes,
            max_unpack_ratio=self.statement_max_unpack_ratio,
            max_parse_s=self.statement_max_parse_s,
        )
