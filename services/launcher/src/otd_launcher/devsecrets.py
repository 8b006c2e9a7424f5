"""Dev tokens and dev channel keys under var/ (DESIGN.md §3). Existing ones are kept."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from otd_shared.auth import Role

TOKEN_BYTES = 24


def ensure_dev_tokens(path: Path) -> dict[str, str]:
    """Write ``{"<role>": "<token>"}`` for every role missing from the file; return all."""
    tokens: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    changed = False
    for role in Role:
        if role.value not in tokens:
            tokens[role.value] = f"dev-{role.value}-{secrets.token_urlsafe(TOKEN_BYTES)}"
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(tokens, indent=2) + "\n")
        os.chmod(path, 0o600)
    return tokens


def ensure_dev_keys(keys_dir: Path) -> None:
    """Create the channel key sets that do not exist yet (RSA 2048, ids.json, apiv3.key)."""
    from payment_gateway.adapters.channels.keys import generate_dev_keys

    generate_dev_keys(keys_dir)
