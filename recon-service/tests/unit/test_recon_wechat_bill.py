"""WeChat Pay trade bill parser (docs/channel-formats.md §2): the verbatim SDK sample, the REFUND
bill type, legacy headers, gzip and SHA1, and broken bills refused with their line number."""

from __future__ import annotations

import gzip
import hashlib
import io
from datetime import UTC, date, datetime

import pytest

from otd_shared.money import fen_to_yuan
from recon_service.adapters.statements import wechatpay
from recon_service.domain import BUSINESS_TZ, LineKind, LineStatus, StatementLimits
from recon_service.domain.errors import StatementFormatError, StatementTooLarge, UnsafeArchive
from recon_service.testing.statement_files import Txn, wechat_bill

# Verbatim from docs/channel-formats.md §2.2 (rows from the official PHP SDK fixture).
HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币"
    "种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户"
    "数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
ROWS = [
    (
        "`2019-02-19 01:52:32,`wxab8acd895ab1638a,`1921000401,`0,`,`4"
        "200000263201902167700134902,`autotest_20190219015232_89201,`"
        "wxab8acb865bb1637e,`NATIVE,`SUCCESS,`OTHERS,`CNY,`0.03,`0.00"
        ",`0,`0,`0.00,`0.00,`,`,`autotest,`,`0.01000,`39.00%,`0.03,`0"
        ".00,`"
    ),
    (
        "`2019-02-19 05:01:46,`wxab8acd895ab1638a,`1921000401,`0,`har"
        "ryma007,`4200000263201902167700134212,`autotest_201902160819"
        "46_82335,`oHkLxtx0vUqe-18p_AXTZ1innxkCY,`JSAPI,`REFUND,`OTHE"
        "RS,`CNY,`0.00,`0.00,`50000709672019011908420787722,`REF42000"
        "00263201902167700963919,`0.01,`0.00,`ORIGINAL,`SUCCESS,`系统拨测"
        "-cheeryin-test_micropay_succ,`,`0.00000,`39.00%,`0.00,`0.01,"
        "`"
    ),
]
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
SUMMARY_OF_THE_45_ROW_FIXTURE = "`45.0,`0.47,`0.14,`0.0,`0.08,`0.47,`0.14"
# The summary the two rows above add up to (count, settled, refunded, 0, fees, ordered, asked).
SUMMARY_OF_TWO_ROWS = "`2.0,`0.03,`0.01,`0.0,`0.01,`0.03,`0.01"
# §2.2 REFUND bill type: ALL header with 退款申请时间,退款成功时间 after 代金券金额 (29 columns).
REFUND_HEADER = HEADER.replace("代金券金额,", "代金券金额,退款申请时间,退款成功时间,")
REFUND_ROW = (
    "`2024-01-02 11:20:00,`wxd678efh567hg6787,`1230000109,`0,`,`4"
    "200001234202401011234567890,`ORD20240101000001,`oUpF8uMuAJO_"
    "M2pxb1Q9zNjWeS6o,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`20"
    "24-01-02 11:20:00,`2024-01-02 11:20:03,`50300000000000000000"
    "000000000,`RF20240102000001,`1.00,`0.00,`ORIGINAL,`SUCCESS,`"
    "测试商品,`,`-0.00600,`0.60%,`0.00,`1.00,`"
)
LEGACY_HEADER = (
    "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,"
    "代金券或立减优惠退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率"
)
LEGACY_SUMMARY_HEADER = "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额"
DAY = date(2024, 3, 1)


def bill(*lines: str, bom: bool = True, newline: str = "\r\n") -> bytes:
    return (("\ufeff" if bom else "") + newline.join(lines) + newline).encode("utf-8")


def txn(n: int, amount_fen: int = 500_000, **kw: object) -> Txn:
    at = datetime(2024, 3, 1, 9, n % 60, 0, tzinfo=BUSINESS_TZ)
    return Txn(
        out_trade_no=f"P240301{n:020d}",
        channel_txn_id=f"42000012342024030100000{n:05d}",
        amount_fen=amount_fen,
        at=at,
        **kw,  # type: ignore[arg-type]
    )


def test_the_verbatim_sdk_rows_parse_into_a_payment_and_a_refund(parse) -> None:
    lines = parse("wechatpay", bill(HEADER, *ROWS, SUMMARY_HEADER, SUMMARY_OF_TWO_ROWS))

    payment, refund = lines
    assert payment.kind is LineKind.PAYMENT
    assert payment.status is LineStatus.SUCCEEDED
    assert payment.line_no == 2
    assert payment.statement_date == date(2019, 2, 19)
    assert payment.out_trade_no == "autotest_20190219015232_89201"
    assert payment.channel_txn_id == "4200000263201902167700134902"
    assert payment.out_refund_no is None
    assert (payment.amount_fen, payment.fee_fen) == (3, 1)
    assert payment.occurred_at == datetime(2019, 2, 18, 17, 52, 32, tzinfo=UTC)
    assert payment.refs_dict()["trade_type"] == "NATIVE"
    assert "sub_mchid" not in payment.refs_dict()  # `0 means none
    assert refund.kind is LineKind.REFUND
    assert refund.out_trade_no == "autotest_20190216081946_82335"
    assert refund.out_refund_no == "REF4200000263201902167700963919"
    assert refund.refs_dict()["refund_id"] == "50000709672019011908420787722"
    assert (refund.amount_fen, refund.fee_fen, refund.signed_amount_fen) == (1, 0, -1)


def test_the_verbatim_summary_of_45_rows_does_not_match_two_rows(parse) -> None:
    data = bill(HEADER, *ROWS, SUMMARY_HEADER, SUMMARY_OF_THE_45_ROW_FIXTURE)

    with pytest.raises(StatementFormatError) as caught:
        parse("wechatpay", data)

    assert caught.value.line_no == 5
    assert "总交易单数 is 45 but the rows add up to 2" in caught.value.message


def test_refund_bill_type_uses_the_success_time_and_a_negative_fee(parse) -> None:
    summary = "`1,`0.00,`1.00,`0.00,`-0.01,`0.00,`1.00"

    (line,) = parse("wechatpay", bill(REFUND_HEADER, REFUND_ROW, SUMMARY_HEADER, summary))

    assert line.kind is LineKind.REFUND
    assert line.out_refund_no == "RF20240102000001"
    assert line.amount_fen == 100
    assert line.fee_fen == -1  # -0.00600 yuan, HALF_UP away from zero
    assert line.occurred_at == datetime(2024, 1, 2, 3, 20, 3, tzinfo=UTC)  # 退款成功时间


def test_legacy_headers_are_read_by_name(parse) -> None:
    row = (
        "`2016-05-04 12:00:00,`wx1,`1900000109,`,`,`4001,`OUT-1,`o1,`JSAPI,`SUCCESS,`CMC,`CNY,"
        "`12.34,`0.00,`0,`0,`0.00,`0.00,`,`,`car,`,`0.07404,`0.60%"
    )
    summary = "`1,`12.34,`0.00,`0.00,`0.07"

    (line,) = parse("wechatpay", bill(LEGACY_HEADER, row, LEGACY_SUMMARY_HEADER, summary))

    assert (line.out_trade_no, line.amount_fen, line.fee_fen) == ("OUT-1", 1234, 7)


@pytest.mark.parametrize(("bom", "newline"), [(True, "\r\n"), (False, "\n"), (True, "\n")])
def test_bom_and_line_endings_are_tolerated(parse, bom: bool, newline: str) -> None:
    data = bill(HEADER, *ROWS, SUMMARY_HEADER, SUMMARY_OF_TWO_ROWS, bom=bom, newline=newline)

    assert [line.line_no for line in parse("wechatpay", data)] == [2, 3]


def test_a_generated_bill_round_trips_and_gzip_is_unpacked(parse) -> None:
    txns = [txn(1, fee_fen=3000), txn(2), txn(3, 1000, refund=True, out_refund_no="R1", fee_fen=6)]

    plain = parse("wechatpay", wechat_bill(txns))
    packed = parse("wechatpay", wechat_bill(txns, gz=True))

    assert plain == packed
    assert [(x.kind, x.amount_fen, x.fee_fen) for x in plain] == [
        (LineKind.PAYMENT, 500_000, 3000),
        (LineKind.PAYMENT, 500_000, 0),
        (LineKind.REFUND, 1000, -6),
    ]
    assert plain[0].statement_date == DAY


@pytest.mark.parametrize(
    ("fee", "fen"), [("0.00500", 1), ("0.00499", 0), ("1.23456", 123), ("-0.00500", -1)]
)
def test_fees_round_half_up_to_the_fen(parse, fee: str, fen: int) -> None:
    row = ROWS[0].replace("`0.01000,", f"`{fee},")
    summary = f"`1,`0.03,`0.00,`0.0,`{fen_to_yuan(fen)},`0.03,`0.00"

    (line,) = parse("wechatpay", bill(HEADER, row, SUMMARY_HEADER, summary))

    assert line.fee_fen == fen


def test_sha1_is_checked_over_the_uncompressed_bill() -> None:
    body = wechat_bill([txn(1)])
    digest = hashlib.sha1(body, usedforsecurity=False).hexdigest()

    wechatpay.check_bill_sha1(io.BytesIO(gzip.compress(body)), digest.upper())
    wechatpay.check_bill_sha1(io.BytesIO(body), digest)
    with pytest.raises(StatementFormatError, match="does not match"):
        wechatpay.check_bill_sha1(io.BytesIO(body), "0" * 40)


def test_a_comma_inside_a_product_name_stays_in_its_field(parse) -> None:
    row = ROWS[0].replace("`autotest,", "`Model S, red,")

    (line,) = parse(
        "wechatpay", bill(HEADER, row, SUMMARY_HEADER, "`1,`0.03,`0.00,`0.0,`0.01,`0.03,`0.00")
    )

    assert line.amount_fen == 3


@pytest.mark.parametrize(
    ("mutate", "line_no", "message"),
    [
        (lambda b: b.decode("utf-8-sig").encode("gbk"), 1, "not valid UTF-8"),
        (
            lambda b: b.replace(",商户订单号,".encode(), ",订单,".encode()),
            1,
            "missing column(s) 商户订单号",
        ),
        (lambda b: b.replace(b"`0.03,`0.00,`0,", b"`0.031,`0.00,`0,"), 2, "应结订单金额"),
        (lambda b: b.replace(b"`0.03,`0.00,`0,", b"`abc,`0.00,`0,"), 2, "应结订单金额"),
        (
            lambda b: b.replace(b"`39.00%,`0.03,", b"`39.00%,"),
            2,
            "26 fields where the header has 27",
        ),
        (lambda b: b.replace(b"\r\n`2019-02-19 05", b"\r\n2019-02-19 05"), 3, "summary header"),
        (lambda b: b.replace(b"2019-02-19 01:52:32", b"2019/02/19 01:52"), 2, "交易时间"),
        (
            lambda b: b.replace(b"`0.03,`0.00,`0,`0,", b"`0.00,`0.00,`0,`0,").replace(
                b"`39.00%,`0.03", b"`39.00%,`0.00"
            ),
            2,
            "above zero",
        ),
    ],
)
def test_broken_bills_are_refused_with_the_line(parse, mutate, line_no: int, message: str) -> None:
    data = mutate(bill(HEADER, *ROWS, SUMMARY_HEADER, SUMMARY_OF_TWO_ROWS))

    with pytest.raises(StatementFormatError) as caught:
        parse("wechatpay", data)

    assert caught.value.line_no == line_no
    assert message in caught.value.message


def test_a_bill_cut_before_its_summary_is_refused(parse) -> None:
    with pytest.raises(StatementFormatError, match="ends before its summary") as caught:
        parse("wechatpay", bill(HEADER, *ROWS))
    assert caught.value.line_no == 4


def test_a_truncated_gzip_download_is_refused(parse) -> None:
    packed = wechat_bill([txn(n) for n in range(200)], gz=True)

    with pytest.raises(StatementFormatError, match="truncated or corrupt"):
        parse("wechatpay", packed[: len(packed) // 2])


def test_lines_after_the_summary_are_refused(parse) -> None:
    data = bill(HEADER, *ROWS, SUMMARY_HEADER, SUMMARY_OF_TWO_ROWS, ROWS[0])

    with pytest.raises(StatementFormatError, match="after the summary") as caught:
        parse("wechatpay", data)
    assert caught.value.line_no == 6


def test_limits_refuse_long_lines_and_big_files(parse) -> None:
    data = bill(HEADER, *ROWS, SUMMARY_HEADER, SUMMARY_OF_TWO_ROWS)

    with pytest.raises(StatementFormatError, match="longer than 100 bytes"):
        parse("wechatpay", data, limits=StatementLimits(max_line_bytes=100))
    with pytest.raises(StatementFormatError, match="more than 3 lines"):
        parse("wechatpay", data, limits=StatementLimits(max_lines=3))
    with pytest.raises(StatementTooLarge):
        parse("wechatpay", data, limits=StatementLimits(max_file_bytes=600))
    packed = wechat_bill([txn(n) for n in range(100)], gz=True)
    assert len(packed) < 2000
    with pytest.raises(UnsafeArchive, match="unpacks to more than 2000 bytes"):
        parse("wechatpay", packed, limits=StatementLimits(max_unpacked_bytes=2000))
