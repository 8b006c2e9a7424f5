"""Typed WeChat Pay APIv3 notification payloads (docs/channel-formats.md §1.3, §1.5, §1.8).

Strict pydantic models: amounts are JSON integers in fen (strings, floats and booleans are
rejected), unknown fields are kept (`extra="allow"`) because WeChat adds fields over time.
Direct-merchant mode only: partner-mode payloads (`sp_mchid`/`sub_mchid`) lack `mchid` and are
rejected as missing it.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

AMOUNT_FEN_MAX: Final = 10**15

Fen = Annotated[int, Field(ge=0, le=AMOUNT_FEN_MAX)]
Text = Annotated[str, Field(max_length=256)]
Id = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class EncryptedResource(_Strict):
    original_type: Id
    algorithm: Id
    ciphertext: Annotated[str, Field(min_length=1)]
    nonce: Id
    associated_data: Text = ""


class NotificationEnvelope(_Strict):
    """The signed JSON body: metadata plus the encrypted `resource`."""

    id: Id
    create_time: Text
    event_type: Id
    resource_type: Id
    summary: Text = ""
    resource: EncryptedResource


class Payer(_Strict):
    openid: Text = ""


class TransactionAmount(_Strict):
    total: Fen
    payer_total: Fen | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "CNY"
    payer_currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None


class Transaction(_Strict):
    """Decrypted `transaction` resource (payment result)."""

    appid: Id
    mchid: Id
    out_trade_no: Id
    transaction_id: Id
    trade_type: Text = ""
    trade_state: Id
    trade_state_desc: Text = ""
    bank_type: Text = ""
    attach: Text = ""
    success_time: Text | None = None
    payer: Payer | None = None
    amount: TransactionAmount


class RefundAmount(_Strict):
    total: Fen
    refund: Fen
    payer_total: Fen | None = None
    payer_refund: Fen | None = None


class Refund(_Strict):
    """Decrypted `refund` resource (refund result)."""

    mchid: Id
    out_trade_no: Id
    transaction_id: Text = ""  # listed by the docs, absent from the official sample
    out_refund_no: Id
    refund_id: Id
    refund_status: Id
    success_time: Text | None = None
    user_received_account: Text = ""
    amount: RefundAmount
