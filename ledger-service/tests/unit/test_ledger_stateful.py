"""Stateful property test of InMemoryLedger: random command sequences keep every invariant.

The machine lives in tests/support/ledger_stateful_machine.py so that the integration test
drives the PostgreSQL-backed service with the same commands and invariants.
"""

from __future__ import annotations

from ledger_stateful_machine import MACHINE_SETTINGS, LedgerMachine


class InMemoryLedgerMachine(LedgerMachine):
    """The machine over `InMemoryLedger` (the default `make_ledger`)."""


InMemoryLedgerMachine.TestCase.settings = MACHINE_SETTINGS
test_ledger_state_machine = InMemoryLedgerMachine.TestCase
