"""Alipay bill archive parser (docs/channel-formats.md §4): the verbatim detail sample in a GBK zip,
the summary cross-check, and broken archives refused with their line number."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime

import pytest

from recon_service.domain import BUSINESS_TZ, LineKind
from recon_service.domain.errors import StatementFormatError
from recon_service.testing.statement_files import (
    Txn,
    alipay_detail,
    alipay_summary,
    alipay_zip,
    gbk_zip,
)

# Verbatim from docs/channel-formats.md §4.2 (TABs before commas are part of the format).
DETAIL_LINES = [
    ("#支付宝业务明细查询"),
    ("#账号：[20880211096256330156]"),
    ("#起始日期：[2019年09月16日 00:00:00]   终止日期：[2019年09月17日 00:00:00]"),
    (
        "#-----------------------------------------业务明细列表------------"
        "----------------------------"
    ),
    (
        "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额"
        "（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家"
        "红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
    ),
    (
        "2019091622001458860515315453\t,service_1568601259302\t,交易\t,下单测"
        "试,2019-09-16 10:55:16,2019-09-16 10:55:23,alipay_store\t,alip"
        "ay_store\t,alipay\t,\t,*津水(602***@qq.com)\t,0.01,0.01,0.00,0.00,"
        "0.00,0.00,0.00,,0.00\t,0.00,\t,0.00,0.00,下单测试"
    ),
    (
        "2019091622001458860515315453\t,service_1568601259302\t,退款\t,下单测"
        "试,2019-09-16 10:55:16,2019-09-16 10:56:48,alipay_store\t,alip"
        "ay_store\t,alipay\t,\t,*津水(602***@qq.com)\t,-0.01,-0.01,0.00,0.0"
        "0,0.00,0.00,0.00,,0.00\t,0.00,re_test_1568602607356\t,0.00,0.0"
        "0,下单测试"
    ),
    (
        "#-----------------------------------------业务明细列表结束----------"
        "--------------------------"
    ),
    ("#交易合计：6笔，商家实收共0.06元，商家优惠共0.00元"),
    ("#退款合计：4笔，商家实收退款共-0.04元，商家优惠退款共0.00元"),
    ("#导出时间：[2019年09月17日 05:46:49]"),
]
SAMPLE_DAY = date(2019, 9, 16)
STEM = "20880211096256330156_20190916"


def sample_detail(lines: list[str] = DETAIL_LINES) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def txn(n: int, amount_fen: int = 4_999_900, **kw: object) -> Txn:
    return Txn(
        out_trade_no=f"P190916{n:020d}",
        channel_txn_id=f"2019091622001458860515{n:06d}",
        amount_fen=amount_fen,
        at=datetime(2019, 9, 16, 10, n % 60, 0, tzinfo=BUSINESS_TZ),
        **kw,  # type: ignore[arg-type]
    )


def test_the_verbatim_sample_in_a_gbk_zip(parse) -> None:
    archive = gbk_zip([(f"{STEM}_业务明细.csv", sample_detail())])
    assert zipfile.ZipFile(__import__("io").BytesIO(archive)).infolist()[0].flag_bits & 0x800 == 0

    payment, refund = parse("alipay", archive)

    assert payment.statement_date == SAMPLE_DAY
    assert payment.kind is LineKind.PAYMENT
    assert payment.line_no == 6
    assert payment.out_trade_no == "service_1568601259302"  # the TAB is stripped
    assert payment.channel_txn_id == "2019091622001458860515315453"
    assert payment.amount_fen == 1
    assert payment.occurred_at == datetime(2019, 9, 16, 2, 55, 23, tzinfo=UTC)  # 完成时间
    assert payment.refs_dict()["store_id"] == "alipay_store"
    assert refund.kind is LineKind.REFUND
    assert refund.amount_fen == 1  # -0.01 on the bill
    assert refund.out_refund_no == "re_test_1568602607356"
    assert refund.out_trade_no == "service_1568601259302"


def test_a_bare_detail_csv_is_accepted_too(parse) -> None:
    assert len(parse("alipay", sample_detail())) == 2


def test_generated_archive_with_its_summary(parse) -> None:
    txns = [txn(1, fee_fen=300), txn(2), txn(3, 100, refund=True, out_refund_no="R3", fee_fen=1)]

    lines = parse("alipay", alipay_zip(txns, SAMPLE_DAY))

    assert [(x.kind, x.amount_fen, x.fee_fen) for x in lines] == [
        (LineKind.PAYMENT, 4_999_900, 300),
        (LineKind.PAYMENT, 4_999_900, 0),
        (LineKind.REFUND, 100, -1),
    ]


def test_a_summary_that_disagrees_with_the_detail_is_refused(parse) -> None:
    txns = [txn(1), txn(2)]
    summary = alipay_summary(txns[:1], SAMPLE_DAY)

    with pytest.raises(
        StatementFormatError, match="合计 交易订单总笔数 is 1 but the detail adds up to 2"
    ):
        parse("alipay", alipay_zip(txns, SAMPLE_DAY, summary=summary))


def test_a_given_date_must_match_the_bill(parse) -> None:
    with pytest.raises(StatementFormatError, match="is for 2019-09-16, not 2019-09-17") as caught:
        parse("alipay", sample_detail(), given_date=date(2019, 9, 17))
    assert caught.value.line_no == 3


def test_a_truncated_zip_is_refused(parse) -> None:
    archive = alipay_zip([txn(n) for n in range(50)], SAMPLE_DAY)

    with pytest.raises(StatementFormatError, match="not a readable zip archive") as caught:
        parse("alipay", archive[: len(archive) // 2])
    assert caught.value.line_no is None


def test_a_corrupt_entry_is_refused(parse) -> None:
    archive = bytearray(alipay_zip([txn(n) for n in range(50)], SAMPLE_DAY, summary=False))
    middle = archive.index(b"PK\x01\x02") // 2  # inside the deflated detail
    archive[middle : middle + 8] = b"\x00" * 8

    with pytest.raises(StatementFormatError, match="corrupt|Bad|truncated|not valid"):
        parse("alipay", bytes(archive))


def test_an_archive_without_the_detail_entry_is_refused(parse) -> None:
    with pytest.raises(StatementFormatError, match="no …_业务明细.csv entry"):
        parse("alipay", gbk_zip([(f"{STEM}_其他.csv", b"x")]))


@pytest.mark.parametrize(
    ("mutate", "line_no", "message"),
    [
        (lambda ls: ls, 1, "UTF-8 encoded; expected GBK"),
        (lambda ls: ls[:6], None, "without 业务明细列表结束"),
        (
            lambda ls: [*ls[:5], ls[5].replace(",0.01,0.01,", ",-0.01,0.01,"), *ls[6:]],
            6,
            "wrong sign",
        ),
        (
            lambda ls: [*ls[:5], ls[5].replace(",0.01,0.01,", ",0.011,0.01,"), *ls[6:]],
            6,
            "订单金额（元）",
        ),
        (
            lambda ls: [*ls[:5], ls[5].replace("交易\t", "冻结\t"), *ls[6:]],
            6,
            "neither 交易 nor 退款",
        ),
        (
            lambda ls: [*ls[:4], ls[4].replace("完成时间", "时间"), *ls[5:]],
            5,
            "missing column(s) 完成时间",
        ),
        (lambda ls: [*ls[:5], ls[5] + ",extra", *ls[6:]], 6, "26 fields where the header has 25"),
        (lambda ls: [ls[0], *ls[4:]], 2, "expected # lines"),
        (lambda ls: [*ls[:5], "#comment", *ls[5:]], 6, "a # line inside the detail table"),
    ],
)
def test_broken_details_are_refused_with_the_line(parse, mutate, line_no, message: str) -> None:
    lines = mutate(list(DETAIL_LINES))
    raw = ("\r\n".join(lines) + "\r\n").encode("utf-8" if lines == DETAIL_LINES else "gbk")

    with pytest.raises(StatementFormatError) as caught:
        parse("alipay", gbk_zip([(f"{STEM}_业务明细.csv", raw)]))

    assert caught.value.line_no == line_no
    assert message in caught.value.message


def test_the_day_comes_from_the_header_of_the_generated_detail(parse) -> None:
    day = date(2024, 2, 29)
    detail = alipay_detail([txn(1)], day)

    (line,) = parse("alipay", detail)

    assert line.statement_date == day
