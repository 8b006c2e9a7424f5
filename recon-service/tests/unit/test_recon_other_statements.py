"""Allinpay (34 columns, yuan), our own cash and wire layouts, and the assumed Lakala layout."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from recon_service.adapters.statements import PARSERS
from recon_service.domain import BUSINESS_TZ, LineKind, LineStatus
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import sources_in_processing_order
from recon_service.testing.statement_files import (
    Txn,
    allinpay_csv,
    cash_csv,
    lakala_csv,
    wire_csv,
)

DAY = date(2024, 5, 20)


def txn(n: int, amount_fen: int = 12_345_67, **kw: object) -> Txn:
    return Txn(
        out_trade_no=f"P240520{n:020d}",
        channel_txn_id=f"24052010000000{n:06d}",
        amount_fen=amount_fen,
        at=datetime(2024, 5, 20, 16, n % 60, 5, tzinfo=BUSINESS_TZ),
        **kw,  # type: ignore[arg-type]
    )


def test_every_source_has_a_parser_in_processing_order() -> None:
    assert tuple(PARSERS) == sources_in_processing_order()
    assert [str(s) for s in sources_in_processing_order()] == [
        "wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire",
    ]  # fmt: skip


# --- Allinpay -----------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "encoding"), [(True, "utf-8"), (False, "utf-8"), (True, "gbk")])
def test_allinpay_with_or_without_header_in_utf8_or_gbk(parse, header: bool, encoding: str) -> None:
    refund = txn(2, 500, refund=True, out_refund_no="R2405200000000000002", fee_fen=3)
    data = allinpay_csv([txn(1, fee_fen=741), refund], header=header, encoding=encoding)

    payment, back = parse("allinpay", data)

    first_line = 2 if header else 1
    assert payment.line_no == first_line
    assert payment.statement_date == DAY
    assert (payment.kind, payment.amount_fen, payment.fee_fen) == (LineKind.PAYMENT, 1_234_567, 741)
    assert payment.out_trade_no == "P24052000000000000000000001"
    assert payment.channel_txn_id == "24052010000000000001"
    assert payment.occurred_at == datetime(2024, 5, 20, 8, 1, 5, tzinfo=UTC)
    assert back.kind is LineKind.REFUND
    assert (back.amount_fen, back.fee_fen) == (500, -3)
    assert back.out_refund_no == "R2405200000000000002"
    assert back.channel_txn_id == "24052010000000000002"  # 原交易单: the payment's trxid


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.replace(b",12345.67,", b",12345.678,"), "交易金额"),
        (lambda r: r.replace(b",2024-05-20,", b",2024-05-32,"), "交易日期"),
        (lambda r: r.rsplit(b",", 1)[0], "33 fields where the header has 34"),
        (lambda r: r.replace(b"16:01:05", b"4pm"), "交易时间"),
    ],
)
def test_allinpay_broken_rows(parse, mutate, message: str) -> None:
    header, row, _ = allinpay_csv([txn(1)]).split(b"\r\n")

    with pytest.raises(StatementFormatError, match=message) as caught:
        parse("allinpay", header + b"\r\n" + mutate(row) + b"\r\n")
    assert caught.value.line_no == 2


def test_allinpay_header_with_missing_columns(parse) -> None:
    data = allinpay_csv([txn(1)]).replace("订单号,".encode(), "单号,".encode(), 1)
    with pytest.raises(StatementFormatError, match="missing column"):
        parse("allinpay", data)


# --- cash ---------------------------------------------------------------------------------


def test_cash_receipts(parse) -> None:
    (line,) = parse("cash", cash_csv([txn(1, 3_000_000)], DAY))

    assert line.kind is LineKind.PAYMENT
    assert line.out_trade_no == "P24052000000000000000000001"
    assert line.channel_txn_id == "24052010000000000001"
    assert (line.amount_fen, line.fee_fen) == (3_000_000, 0)
    assert line.refs_dict() == {"store_id": "S001", "cashier": "cashier-7"}
    assert line.occurred_at == datetime(2024, 5, 20, 8, 1, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("2024-05-21,S001,RC1,P1,100,c7,10:00:00,payment", "is for 2024-05-21, not 2024-05-20"),
        ("2024-05-20,S001,RC1,P1,-100,c7,10:00:00,payment", "must not be negative"),
        ("2024-05-20,S001,RC1,P1,1.00,c7,10:00:00,payment", "amount_fen"),
        ("2024-05-20,S001,,P1,100,c7,10:00:00,payment", "receipt_no is empty"),
        ("2024-05-20,S001,RC1,P1,100,c7,10:00:00,gift", "kind must be payment or refund"),
        ("2024-05-20,S001,RC1,P1,100,c7", "6 fields where the header has 8"),
    ],
)
def test_cash_broken_rows(parse, row: str, message: str) -> None:
    data = cash_csv([txn(1)], DAY) + row.encode() + b"\n"

    with pytest.raises(StatementFormatError, match=message) as caught:
        parse("cash", data)
    assert caught.value.line_no == 3


def test_cash_without_its_columns(parse) -> None:
    with pytest.raises(StatementFormatError, match="missing column.*amount_fen") as caught:
        parse("cash", b"date,store_id,receipt_no,order_ref,cashier\n")
    assert caught.value.line_no == 1


# --- wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize("yuan", [False, True])
def test_wire_transfers_in_fen_or_yuan(parse, yuan: bool) -> None:
    refund = txn(2, 100_00, refund=True)
    credit, debit = parse("wire", wire_csv([txn(1, 15_000_000), refund], DAY, yuan=yuan))

    assert (credit.kind, credit.amount_fen) == (LineKind.PAYMENT, 15_000_000)
    assert credit.channel_txn_id == "24052010000000000001"
    assert credit.out_trade_no is None
    assert credit.refs_dict()["payer_account_last4"] == "0048"
    assert credit.occurred_at == datetime(2024, 5, 19, 16, 0, tzinfo=UTC)
    assert (debit.kind, debit.amount_fen) == (LineKind.REFUND, 10_000)


def test_wire_needs_exactly_one_amount_column(parse) -> None:
    header = (
        b"value_date,bank_account,payer_name,payer_account_last4,amount_fen,amount_yuan,"
        b"bank_reference,remark\n"
    )
    with pytest.raises(StatementFormatError, match="exactly one of amount_fen or amount_yuan"):
        parse("wire", header)


def test_wire_payer_account_is_four_digits(parse) -> None:
    data = wire_csv([txn(1)], DAY).replace(b",0048,", b",48,")
    with pytest.raises(StatementFormatError, match="four digits") as caught:
        parse("wire", data)
    assert caught.value.line_no == 2


# --- Lakala (assumed layout) --------------------------------------------------------------


def test_lakala_assumed_layout(parse) -> None:
    refund = txn(2, 200, refund=True, out_refund_no="R2", fee_fen=1)
    payment, back = parse("lakala", lakala_csv([txn(1, fee_fen=370), refund]))

    assert payment.statement_date == DAY
    assert payment.refs_dict()["log_no"] == "10000000000001"
    assert payment.channel_txn_id == "24052010000000000001"
    assert (payment.amount_fen, payment.fee_fen, payment.status) == (
        1_234_567,
        370,
        LineStatus.SUCCEEDED,
    )
    assert (back.kind, back.out_refund_no, back.fee_fen) == (LineKind.REFUND, "R2", -1)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"10000000000001,", b"1000000001,", "log_no must be 14 digits"),
        (b",PAY,", b",GIFT,", "trade_type 'GIFT'"),
        (b",1234567,", b",12345.67,", "total_amount"),
    ],
)
def test_lakala_broken_rows(parse, old: bytes, new: bytes, message: str) -> None:
    with pytest.raises(StatementFormatError, match=message) as caught:
        parse("lakala", lakala_csv([txn(1)]).replace(old, new))
    assert caught.value.line_no == 2


def test_lakala_unknown_states_are_pending(parse) -> None:
    (line,) = parse("lakala", lakala_csv([txn(1)]).replace(b",SUCCESS,", b",DEAL,"))
    assert line.status is LineStatus.PENDING
