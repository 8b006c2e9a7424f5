"""What the ledger's handlers share in one process: settings, outbox, caches, metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from ledger_service.adapters.sap_connectors import SapConnector
from ledger_service.config import LedgerSettings
from ledger_service.domain.accounts import Account
from ledger_service.domain.chart import DEFAULT_CHART, Chart
from ledger_service.domain.sap import SapMapping
from otd_shared.events import Topic, topic_for
from otd_shared.outbox import OutboxWriter

ACCOUNT_CACHE_MAX_ENTRIES: Final = 200_000


class AccountCache:
    """Accounts known to be committed. Accounts never change or close, so a hit is always right.

    Only fill it from reads that cannot see uncommitted writes of the reader's own transaction.
    """

    def __init__(self, max_entries: int = ACCOUNT_CACHE_MAX_ENTRIES) -> None:
        self._max_entries = max_entries
        self._accounts: dict[str, Account] = {}

    def get(self, code: str) -> Account | None:
        """The cached account, if any."""
        return self._accounts.get(code)

    def remember(self, accounts: Iterable[Account]) -> None:
        """Cache committed accounts (the cache starts over when full)."""
        for account in accounts:
            if len(self._accounts) >= self._max_entries:
                self._accounts.clear()
            self._accounts[account.code] = account

    def clear(self) -> None:
        """Forget everything (tests that empty the tables)."""
        self._accounts.clear()


class LedgerMetrics:
    """Counters of the ledger, in the service's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.journals = Counter(
            "ledger_journals_total",
            "Journals by path (api, batch, event, reversal) and result (created, duplicate).",
            ["path", "result"],
            registry=registry,
        )
        self.retries = Counter(
            "ledger_transaction_retries_total",
            "Transactions retried after a deadlock or serialization failure.",
            registry=registry,
        )
        self.unposted = Counter(
            "ledger_unposted_events_total",
            "Consumed events the posting rules refused (kept in unposted_events).",
            ["event_type"],
            registry=registry,
        )
        self.sap_documents = Counter(
            "ledger_sap_documents_total",
            "SAP document deliveries by outcome (sent, acknowledged, rejected, failed).",
            ["outcome"],
            registry=registry,
        )


@dataclass
class LedgerContext:
    """Built once per runtime (bootstrap) and handed to every handler."""

    settings: LedgerSettings
    outbox: OutboxWriter
    metrics: LedgerMetrics
    connector_factory: Callable[[], SapConnector]
    chart: Chart = DEFAULT_CHART
    accounts: AccountCache = field(default_factory=AccountCache)

    @property
    def topic(self) -> str:
        """The full name of the ledger's topic in this deployment."""
        return topic_for(Topic.LEDGER, self.settings.kafka_topic_prefix)

    @property
    def sap_mapping(self) -> SapMapping:
        """Our accounts → SAP G/L accounts and company codes."""
        return self.settings.sap_mapping()
