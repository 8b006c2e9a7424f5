"""Settings of recon-service (environment variables, see docs/recon.md)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field

from otd_shared.settings import ServiceSettings
from recon_service.domain.recon import ReconPolicy
from recon_service.domain.statement import StatementLimits

MIB = 1024 * 1024
STATEMENT_MAX_FILE_BYTES_DEFAULT = 64 * MIB
MULTIPART_OVERHEAD_BYTES = MIB  # form fields and part headers around the file


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

    def recon_policy(self) -> ReconPolicy:
        """How internal records near the day cut carry over."""
        return ReconPolicy(
            carry_over_days=self.recon_carry_over_days,
            cut_grace=timedelta(seconds=self.recon_cut_grace_s),
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
