"""Settings of ledger-service (environment variables, see docs/ledger.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr

from ledger_service.domain.sap import DEV_SAP_MAPPING, CompanyRule, GlRule, SapMapping
from otd_shared.settings import REPO_ROOT, ServiceSettings


class LedgerSettings(ServiceSettings):
    """ledger-service settings: posting limits, bank accounts, SAP connector and mapping."""

    service_name: str = "ledger-service"
    port: int = 8004
    # A batch of 2,000 two-leg journals is about 600 kB of JSON.
    max_request_body_bytes: int = Field(default=4_194_304, ge=1024)
    batch_max_journals: int = Field(default=2000, ge=1, le=10_000)
    balance_shards: int = Field(
        default=16, ge=1, le=256, description="Balance rows per account and day (hot accounts)."
    )
    group_commit_max_journals: int = Field(
        default=200, ge=1, le=5000, description="Concurrent single posts sharing a transaction."
    )
    group_commit_max_in_flight: int = Field(
        default=2, ge=1, le=64, description="Transactions of single posts written at once."
    )
    db_retry_attempts: int = Field(default=8, ge=1, le=50)
    db_retry_delay_ms: int = Field(default=5, ge=0, le=10_000)
    default_bank_account_id: str = Field(
        default="MAIN", description="Our bank account for settlements, wire refunds, loans."
    )
    settlement_bank_accounts: dict[str, str] = Field(
        default_factory=dict, description="Channel code → bank account its settlements reach."
    )
    unassigned_cash_store_id: str = Field(
        default="UNASSIGNED",
        description="Till for cash callbacks that name no store (finance reclassifies them).",
    )
    recon_cash_store_id: str = Field(
        default="HQ", description="Store whose till absorbs cash recon adjustments."
    )
    sap_connector: Literal["file", "http"] = "file"
    sap_outbox_dir: Path | None = Field(
        default=None, description="File drop directory; default <OTD_VAR_DIR or var>/sap-outbox."
    )
    sap_file_format: Literal["json", "csv"] = "json"
    sap_http_url: str | None = None
    sap_http_token: SecretStr | None = None
    sap_http_timeout_ms: int = Field(default=10_000, ge=100, le=120_000)
    sap_mapping_json: str | None = Field(
        default=None,
        description='{"default_company_code", "gl_rules": [{"prefix", "gl_account"}], '
        '"company_rules": [{"prefix", "company_code"}]}; the dev mapping when unset.',
    )

    def settlement_bank_account(self, channel: str) -> str:
        """The bank account a channel's settlements reach."""
        return self.settlement_bank_accounts.get(channel, self.default_bank_account_id)

    def sap_outbox_path(self) -> Path:
        """Where the file-drop connector writes documents."""
        if self.sap_outbox_dir is not None:
            return self.sap_outbox_dir
        return Path(os.environ.get("OTD_VAR_DIR", REPO_ROOT / "var")) / "sap-outbox"

    def sap_mapping(self) -> SapMapping:
        """Our accounts → SAP G/L accounts and company codes."""
        if self.sap_mapping_json is None:
            return DEV_SAP_MAPPING
        raw = json.loads(self.sap_mapping_json)
        return SapMapping(
            default_company_code=str(raw["default_company_code"]),
            gl_rules=tuple(GlRule(str(r["prefix"]), str(r["gl_account"])) for r in raw["gl_rules"]),
            company_rules=tuple(
                CompanyRule(str(r["prefix"]), str(r["company_code"]))
                for r in raw.get("company_rules", ())
            ),
        )
