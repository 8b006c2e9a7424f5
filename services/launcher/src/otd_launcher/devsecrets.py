"""Dev tokens and dev channel keys under var/ (README.md). Existing ones are kept."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from otd_shared.auth import Role

TOKEN_BYTES = 24
PASSWORD_BYTES = 12
CONSOLE_USERNAMES = {
    "finance": "finance",
    "finance-approver": "approver",
    "cashier": "cashier",
    "marketing": "marketing",
}
# The dev store S001 (docs/offline-payments.md) with a UnionPay and an Allinpay terminal.
DEV_POS_REGISTRY = {
    "stores": [
        {
            "store_id": "S001",
            "name": "Dev store",
            "terminals": {"T-UP-001": "unionpay", "T-AL-001": "allinpay"},
        }
    ]
}


def ensure_dev_tokens(path: Path) -> dict[str, str]:
    """Write ``{"<role>": "<token>"}`` for every role missing from the file; return all."""
    tokens: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    changed = False
    for role in Role:
        if role.value not in tokens:
            tokens[role.value] = f"dev-{role.value}-{secrets.token_urlsafe(TOKEN_BYTES)}"
            changed = True
    if changed:
        _write_private(path, tokens)
    return tokens


def ensure_console_users(path: Path) -> dict[str, dict[str, str]]:
    """Write ``{"<role>": {"username", "password"}}`` for each console role missing from the
    file (README.md: finance, finance-approver, cashier, marketing); return all."""
    users: dict[str, dict[str, str]] = json.loads(path.read_text()) if path.is_file() else {}
    missing = {r: n for r, n in CONSOLE_USERNAMES.items() if r not in users}
    for role, username in missing.items():
        users[role] = {"username": username, "password": secrets.token_urlsafe(PASSWORD_BYTES)}
    if missing:
        _write_private(path, users)
    return users


def _write_private(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    os.chmod(path, 0o600)


def ensure_dev_keys(keys_dir: Path) -> None:
    """Create the channel key sets that do not exist yet (RSA 2048, ids.json, apiv3.key)."""
    from payment_gateway.adapters.channels.keys import generate_dev_keys

    generate_dev_keys(keys_dir)


def ensure_pos_registry(path: Path) -> Path:
    """Write the dev POS registry (store S001 and its terminals) unless it exists."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(DEV_POS_REGISTRY, indent=2) + "\n")
    return path
