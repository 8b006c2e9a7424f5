"""UnionPay ZM parser (docs/channel-formats.md §5.2): byte widths in GBK, separators, D/C signs,
the year from the statement date, and broken records refused with their line number."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime

import pytest

from recon_service.adapters.statements import unionpay
from recon_service.domain import BUSINESS_TZ, LineKind
from recon_service.domain.errors import StatementDateMissing, StatementFormatError
from recon_service.testing.statement_files import Txn, unionpay_zm, zm_record

# From the ZM sample of the format reference (§5.2; its trailing spaces trimmed: 387 of 607 bytes).
ZM_LINE = (
    "S22 00049992    00049992    067402 0908132206 6226********00"
    "48    000000000001 5311 07 782209081322060674028    ORD20220"
    "908132206                01                   D000000000000 "
    "C000000000001 0001                 01 01 000201 01          "
    "                                                     7772900"
    "58167151                                                    "
    "              C000000000001"
)
DAY = date(2022, 9, 8)


def txn(n: int, amount_fen: int = 20_000_000, **kw: object) -> Txn:
    return Txn(
        out_trade_no=f"P220908{n:020d}",
        channel_txn_id=f"7822090813220606740{n:02d}",
        amount_fen=amount_fen,
        at=datetime(2022, 9, 8, 13, 22, n % 60, tzinfo=BUSINESS_TZ),
        **kw,  # type: ignore[arg-type]
    )


def test_the_verbatim_record_with_trimmed_trailing_spaces(parse) -> None:
    (line,) = parse("unionpay", ZM_LINE.encode("gbk") + b"\r\n", given_date=DAY)

    assert line.kind is LineKind.PAYMENT
    assert line.out_trade_no == "ORD20220908132206"
    assert line.channel_txn_id == "782209081322060674028"
    assert (line.amount_fen, line.fee_fen) == (1, 0)
    assert line.occurred_at == datetime(2022, 9, 8, 5, 22, 6, tzinfo=UTC)
    refs = line.refs_dict()
    assert refs["mer_id"] == "777290058167151"
    assert refs["settle_fen"] == "-1"  # C: credited to us
    assert refs["trace_no"] == "067402"


def test_the_width_table_adds_up_to_607_bytes() -> None:
    assert unionpay.RECORD_BYTES == 607
    assert unionpay.SPANS[11] == (112, 144)  # 商户订单号 at offset 112, 32 bytes
    assert unionpay.SPANS[41] == (509, 607)


def test_payments_and_refunds_with_signed_fees(parse) -> None:
    refund = txn(2, 5_000, refund=True, out_refund_no="R220908000000000000000000002", fee_fen=15)
    data = unionpay_zm([txn(1, fee_fen=1_200), refund])

    payment, back = parse("unionpay", data, given_date=DAY)

    assert (payment.kind, payment.amount_fen, payment.fee_fen) == (
        LineKind.PAYMENT,
        20_000_000,
        1_200,
    )
    assert back.kind is LineKind.REFUND
    assert back.out_refund_no == "R220908000000000000000000002"
    assert back.out_trade_no == "P22090800000000000000000002"  # 原始交易订单号
    assert back.channel_txn_id == "782209081322060674002"  # 原交易查询流水号
    assert back.fee_fen == -15  # C: the fee comes back


def test_widths_are_bytes_so_chinese_text_takes_two_each(parse) -> None:
    record = bytearray(zm_record(txn(1)))
    start, end = unionpay.SPANS[34]  # 商户自定义域, 32 bytes
    record[start:end] = "上海门店定金".encode("gbk").ljust(end - start, b" ")

    (line,) = parse("unionpay", bytes(record), given_date=DAY)

    assert line.out_trade_no == "P22090800000000000000000001"
    assert line.amount_fen == 20_000_000


def test_the_year_is_the_one_nearest_the_statement_date(parse) -> None:
    late = Txn(
        out_trade_no="P1",
        channel_txn_id="782212312359590000001",
        amount_fen=1,
        at=datetime(2023, 12, 31, 23, 59, 59, tzinfo=BUSINESS_TZ),
    )

    (line,) = parse("unionpay", zm_record(late), given_date=date(2024, 1, 1))

    assert line.occurred_at == datetime(2023, 12, 31, 15, 59, 59, tzinfo=UTC)


def test_the_download_zip_and_the_date_in_its_name(parse) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("INN22090888ZM_777290058167151", unionpay_zm([txn(1), txn(2)]))
        archive.writestr("INN22090888ZME_777290058167151", b"")

    lines = parse("unionpay", buffer.getvalue(), filename="777290058167151_20220908.zip")

    assert [x.statement_date for x in lines] == [DAY, DAY]


def test_without_a_date_zm_cannot_be_read(parse) -> None:
    with pytest.raises(StatementDateMissing):
        parse("unionpay", zm_record(txn(1)))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r + b" ", "608 bytes; ZM records are 607"),
        (lambda r: r[:50] + r[51:], "not the separator"),
        (lambda r: r.replace(b"000020000000", b"00002000000X"), "交易金额"),
        (lambda r: r.replace(b"000020000000", b"000000000000"), "above zero"),
        (lambda r: r.replace(b"D000000000000", b"X000000000000"), "does not start with D or C"),
        (lambda r: b"S99" + r[3:], "交易代码 'S99'"),
        (lambda r: r.replace(b"0908132201", b"0931132201"), "not a valid time"),
        (lambda r: r[:112] + "订单".encode() + r[118:], "UTF-8 encoded; expected GBK"),
    ],
)
def test_broken_records_are_refused_with_the_line(parse, mutate, message: str) -> None:
    good = zm_record(txn(0)) + b"\r\n"
    data = good + mutate(zm_record(txn(1))) + b"\r\n"

    with pytest.raises(StatementFormatError, match=message) as caught:
        parse("unionpay", data, given_date=DAY)

    assert caught.value.line_no == 2


def test_a_split_double_byte_character_is_named(parse) -> None:
    record = bytearray(zm_record(txn(1)))
    start, end = unionpay.SPANS[34]
    record[end - 1 : end] = "上".encode("gbk")[:1]  # the first byte of a character at the edge

    with pytest.raises(StatementFormatError, match="field 35 is not valid GBK"):
        parse("unionpay", bytes(record), given_date=DAY)
