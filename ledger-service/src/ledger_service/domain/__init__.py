"""The pure domain of the ledger service: no FastAPI, SQLAlchemy or Kafka.

Modules:
    errors         the exception tree (HTTP status and code on every error)
    money          integer-fen and currency checks
    accounts       Account, AccountType, Side, account code syntax
    chart          the chart of accounts as data, channel codes, account code derivation
    business_date  Asia/Shanghai business date of a UTC instant
    journal        Leg, JournalDraft, Journal, Entry, limits, reverse
    events         posting-rule inputs (plain dataclasses)
    rules          posting rules and their registry, PostingProposal
    balances       Balance, balance_of, trial balance, presentation helpers
    sap            grouping journals into SAP accounting documents
    memory         InMemoryLedger, the reference model of the ledger
"""
