"""Reference data derived from code, brought up to date on every ``migrate``.

The clearing and fee accounts of the channel catalogue (otd_shared.channels) are opened here,
so a new channel needs no revision of its own (docs/adding-a-channel.md). Idempotent: accounts
that exist are left alone (rows of the chart are never updated).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ledger_service.domain.accounts import split_account_code
from ledger_service.domain.chart import catalogue_accounts
from otd_shared.channels import CATALOGUE, Catalogue


def open_catalogue_accounts(
    connection: Connection, schema: str, catalogue: Catalogue = CATALOGUE
) -> None:
    """Open each clearing channel's ``clearing:<code>`` and ``fees:<code>`` if missing."""
    rows = [
        {
            "code": account.code,
            "family": split_account_code(account.code)[0],
            "owner": account.owner,
            "type": account.type.value,
            "currency": account.currency,
        }
        for account in catalogue_accounts(catalogue)
    ]
    if not rows:
        return
    insert = (
        f'INSERT INTO "{schema}".accounts (code, family, owner, type, currency) '  # noqa: S608
        "VALUES (:code, :family, :owner, :type, :currency) ON CONFLICT (code) DO NOTHING"
    )  # the schema name is ours (the migration's), never input
    connection.execute(sa.text(insert), rows)
