"""The bank statement file of incoming transfers (bank-enterprise link), parsed for intake.

The layout is recon's wire statement (recon-service adapters/statements/wire.py, docs/recon.md
"wire"), so one file feeds both; the full payer account may stand in a ``payer_account``
column instead of ``payer_account_last4`` (it is masked at once)::

    value_date,bank_account,payer_name,payer_account|payer_account_last4,amount_fen|amount_yuan,bank_reference,remark|memo[,direction]

UTF-8 (BOM tolerated), header row required; debit rows (money out) are skipped.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Final

from otd_shared.errors import InvalidInput
from otd_shared.money import yuan_to_fen
from payment_gateway.service_layer.wires import Transfer

REQUIRED: Final = ("value_date", "bank_account", "payer_name", "bank_reference")
FIELD_CHARS_MAX: Final = 200


class StatementFileError(InvalidInput):
    """The file is not in the wire statement layout; names the line."""

    code = "bad_statement_file"


def parse_wire_file(raw: bytes, *, lines_max: int) -> list[Transfer]:
    """The credit transfers of a statement file, or StatementFileError naming the line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise StatementFileError("the statement file is not UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    payer = _one_of(header, ("payer_account", "payer_account_last4"), "payer account")
    amount = _one_of(header, ("amount_fen", "amount_yuan"), "amount")
    memo = _one_of(header, ("memo", "remark"), "memo")
    if missing:
        raise StatementFileError(f"line 1: missing columns {missing}")
    transfers = []
    for line_no, fields in enumerate(reader, start=2):
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise StatementFileError(
                f"line {line_no}: {len(fields)} fields, header has {len(header)}"
            )
        row = {k: v.strip() for k, v in zip(header, fields, strict=True)}
        if row.get("direction", "credit").lower() in ("", "credit"):
            transfers.append(_transfer(row, line_no, payer=payer, amount=amount, memo=memo))
        if len(transfers) > lines_max:
            raise StatementFileError(f"the file has more than {lines_max} transfers")
    return transfers


def _one_of(header: list[str], names: tuple[str, ...], what: str) -> str:
    present = [n for n in names if n in header]
    if len(present) != 1:
        raise StatementFileError(f"line 1: exactly one of {list(names)} is needed ({what})")
    return present[0]


def _transfer(row: dict[str, str], line_no: int, *, payer: str, amount: str, memo: str) -> Transfer:
    try:
        value_date = date.fromisoformat(row["value_date"])
        amount_fen = int(row[amount]) if amount == "amount_fen" else yuan_to_fen(row[amount])
    except ValueError:
        raise StatementFileError(f"line {line_no}: bad value_date or {amount}") from None
    if amount_fen <= 0:
        raise StatementFileError(f"line {line_no}: {amount} must be positive")
    payer_account = row[payer]
    if payer == "payer_account_last4":
        payer_account = f"****{payer_account}"
    if not row["bank_reference"] or any(len(v) > FIELD_CHARS_MAX for v in row.values()):
        raise StatementFileError(f"line {line_no}: empty bank_reference or a field too long")
    return Transfer(
        bank_reference=row["bank_reference"],
        bank_account=row["bank_account"],
        payer_name=row["payer_name"],
        payer_account=payer_account,
        amount_fen=amount_fen,
        value_date=value_date,
        memo=row[memo],
    )
