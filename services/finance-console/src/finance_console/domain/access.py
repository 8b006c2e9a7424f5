"""Who may open which page: the console's roles and the pages each one sees."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum


class ConsoleRole(StrEnum):
    """The roles a console user holds (README.md, ``var/console-users.json``)."""

    FINANCE = "finance"
    FINANCE_APPROVER = "finance-approver"
    CASHIER = "cashier"
    MARKETING = "marketing"


@dataclass(frozen=True, slots=True)
class Page:
    """A console page: its path, its title in the menu and the roles that may open it."""

    path: str
    title: str
    roles: frozenset[ConsoleRole]


FINANCE_ROLES = frozenset({ConsoleRole.FINANCE, ConsoleRole.FINANCE_APPROVER})
CASH_ROLES = frozenset({ConsoleRole.CASHIER, *FINANCE_ROLES})
DISCOUNT_ROLES = frozenset({ConsoleRole.MARKETING, *FINANCE_ROLES})
PAGES: tuple[Page, ...] = (
    Page("/dashboard", "Recon dashboard", FINANCE_ROLES),
    Page("/statements", "Statements", FINANCE_ROLES),
    Page("/discrepancies", "Discrepancies", FINANCE_ROLES),
    Page("/approvals", "Approvals", FINANCE_ROLES),
    Page("/cash", "Cash", CASH_ROLES),
    Page("/wires", "Wire claims", CASH_ROLES),
    Page("/discounts", "Discounts", DISCOUNT_ROLES),
    Page("/orders", "Order lookup", frozenset({ConsoleRole.FINANCE})),
    Page("/ledger", "Ledger", FINANCE_ROLES),
    Page("/status", "Cluster", frozenset(ConsoleRole)),
)
UPLOAD_ROLES = frozenset({ConsoleRole.FINANCE})
RESOLVE_ROLES = frozenset({ConsoleRole.FINANCE})
APPROVER_ROLES = frozenset({ConsoleRole.FINANCE_APPROVER})
SAP_RESEND_ROLES = frozenset({ConsoleRole.FINANCE, ConsoleRole.FINANCE_APPROVER})
# The payment-gateway's own rules (entrypoints/wires_api.py, cash_api.py, discounts_api.py):
WIRE_CLAIM_ROLES = frozenset({ConsoleRole.FINANCE, ConsoleRole.CASHIER})
WIRE_UNCLAIM_ROLES = FINANCE_ROLES
CASH_RECORD_ROLES = frozenset({ConsoleRole.CASHIER})
CASH_REVERSE_ROLES = APPROVER_ROLES
DAY_CLOSE_ROLES = frozenset({ConsoleRole.CASHIER})
DISCOUNT_CANCEL_ROLES = frozenset({ConsoleRole.MARKETING, ConsoleRole.FINANCE_APPROVER})


def page(path: str) -> Page:
    """The page registered under ``path``."""
    return next(p for p in PAGES if p.path == path)


def pages_for(role: ConsoleRole) -> list[Page]:
    """The menu of a role."""
    return [p for p in PAGES if role in p.roles]


def home_for(role: ConsoleRole) -> str:
    """Where a user lands after signing in."""
    menu = pages_for(role)
    return menu[0].path if menu else "/account"


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """A signed-in person."""

    username: str
    role: ConsoleRole


class UserDirectory:
    """The console users by name; passwords compared in constant time."""

    def __init__(self, by_role: dict[str, dict[str, str]]) -> None:
        self._users: dict[str, tuple[bytes, ConsoleRole]] = {}
        for role, entry in by_role.items():
            if role in ConsoleRole.__members__.values():
                self._users[entry["username"]] = (entry["password"].encode(), ConsoleRole(role))

    def authenticate(self, username: str, password: str) -> ConsoleUser | None:
        """The user when the password is right, else None (same work either way)."""
        stored, role = self._users.get(username, (b"\x00" * 32, None))
        matches = hmac.compare_digest(stored, password.encode())
        if role is None or not matches:
            return None
        return ConsoleUser(username=username, role=role)
