"""The settings base every service extends (pydantic-settings, environment first).

Secrets are ``SecretStr`` and never reach logs. Defaults fit the local run
(``make run``), which exports DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]


class ServiceSettings(BaseSettings):
    """Settings shared by every service; a service subclass adds its own."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = "service"
    database_url: SecretStr = SecretStr("postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    db_pool_size: int = Field(default=10, ge=1, le=100)
    db_pool_timeout_s: float = Field(
        default=30.0, gt=0, le=600, description="How long a request waits for a pooled connection."
    )
    db_pool_pre_ping: bool = Field(
        default=True,
        description="Ping a pooled connection at checkout when it sat idle in the pool for "
        "db_pool_ping_idle_s or longer (BEGIN; ; ROLLBACK with asyncpg: three round trips). "
        "Off: rely on the pool invalidating itself after a disconnect error.",
    )
    db_pool_ping_idle_s: float = Field(
        default=2.0,
        ge=0,
        le=3600,
        description="How long a pooled connection sits idle before its checkout pings it "
        "(0: every checkout).",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_topic_prefix: str = ""
    kafka_consumer_group_prefix: str = ""
    kafka_enable_idempotence: bool = False
    auth_tokens_file: Path = REPO_ROOT / "var" / "dev-tokens.json"
    auth_tokens_json: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    run_workers: bool = Field(
        default=False, description="Run the outbox relay and consumers inside the API process."
    )
    relay_batch_size: int = Field(default=500, ge=1, le=5000)
    relay_idle_sleep_ms: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Outbox poll interval while the relay's LISTEN connection is down.",
    )
    relay_safety_poll_ms: int = Field(
        default=5000,
        ge=10,
        le=600_000,
        description="Outbox poll interval while LISTEN works (covers a lost NOTIFY); the "
        "relay checks run on this tick too.",
    )
    relay_coalesce_ms: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="Pause after a NOTIFY before reading the outbox, so a burst of "
        "transactions goes out in few batches.",
    )
    broker_watch_interval_ms: int = Field(
        default=2000,
        ge=50,
        le=600_000,
        description="How often the relay's broker-loss watch compares the broker with the "
        "outbox (a metadata and an offsets request each time; the outbox's published counts "
        "every tenth time)",
    )
    broker_loss_action: Literal["repair", "alert"] = Field(
        default="repair",
        description="What the broker-loss watch does when the broker lost messages: "
        "'repair' (the bundled broker: create missing topics, delete and recreate one with a "
        "wrong partition count, republish the window from the outbox) or 'alert' (real "
        "Kafka: log the loss at ERROR and count it in broker_loss_alerts_total, touch no "
        "topic and republish nothing; an operator repairs, see docs/hostile-input-and-faults.md)",
    )
    outbox_republish_window_s: int = Field(
        default=3600,
        ge=1,
        le=30 * 86_400,
        description="Published outbox rows this recent are republished when the broker lost "
        "messages; the outbox retention job must keep published rows at least this long",
    )
    consumer_max_attempts: int = Field(default=5, ge=1, le=50)
    consumer_retry_delay_ms: int = Field(default=50, ge=0, le=60_000)
    consumer_batch_max: int = Field(default=500, ge=1, le=5000)
    consumer_fetch_max_wait_ms: int = Field(
        default=50,
        ge=1,
        le=10_000,
        description="Long poll: how long the broker may hold an empty fetch. Kafka answers "
        "as soon as a record arrives; the bundled broker (Tansu) was measured to answer "
        "only at its own tick within this wait, so locally it adds up to this much latency "
        "per hop. 50 keeps local propagation near what tests expect; with Kafka use 500 "
        "(no latency cost there, a quieter idle).",
    )
    consumer_fetch_min_bytes: int = Field(
        default=1,
        ge=1,
        le=16_777_216,
        description="A fetch is answered once this much is there (or at the fetch wait): "
        "larger means fewer, fuller fetches under load at up to one fetch wait per hop.",
    )
    consumer_wakeups: bool = Field(
        default=True,
        description="Idle consumers stop fetching and wait for the relays' NOTIFY "
        "otd_published (sent once a batch is on the broker), so an idle cluster sends the "
        "broker almost nothing and a record is fetched at once instead of at the bundled "
        "broker's tick. Needs the services on one PostgreSQL database (make run, one server "
        "with a schema per service); with a database per service turn it off and use a "
        "long fetch wait with Kafka.",
    )
    consumer_idle_poll_ms: int = Field(
        default=5000,
        ge=100,
        le=60_000,
        description="With wake-ups: an idle consumer still fetches once this often (a lost "
        "NOTIFY, a relay of another database).",
    )
    max_request_body_bytes: int = Field(default=1_048_576, ge=1024)
    retention_inbox_days: int = Field(
        default=14,
        ge=1,
        le=3650,
        description="Inbox rows kept this long: longer than the broker's topic retention and "
        "the outbox retention, so no redelivery or republish can find its row gone.",
    )
    retention_outbox_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Published outbox rows kept this long (a republish after broker loss).",
    )
    retention_dead_letters_days: int = Field(
        default=90, ge=1, le=3650, description="Resolved dead letters kept this long."
    )
    retention_batch_rows: int = Field(
        default=5000, ge=100, le=100_000, description="Rows per retention delete transaction."
    )

    @model_validator(mode="after")
    def _inbox_outlives_outbox(self) -> Self:
        if self.retention_inbox_days <= self.retention_outbox_days:
            raise ValueError(
                "RETENTION_INBOX_DAYS must exceed RETENTION_OUTBOX_DAYS (a republished event "
                "must still find its inbox row)"
            )
        return self

    def tokens_by_value(self) -> dict[str, str]:
        """Map bearer token → role, from AUTH_TOKENS_JSON or the tokens file."""
        if self.auth_tokens_json is not None:
            by_role = json.loads(self.auth_tokens_json.get_secret_value())
        elif self.auth_tokens_file.is_file():
            by_role = json.loads(self.auth_tokens_file.read_text())
        else:
            by_role = {}
        return {str(token): str(role) for role, token in by_role.items()}
