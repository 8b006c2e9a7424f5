"""Statement files in each source's real layout, built from a list of transactions.

The channel sandbox serves its bills in these layouts (built from the payments it saw), and
recon's tests render the same ``Txn`` list into any source's format and load it; the layouts
follow docs/channel-formats.md and docs/recon.md (recon-service parses them).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from otd_shared.money import fen_to_yuan

BUSINESS_TZ: Final = ZoneInfo("Asia/Shanghai")
WECHAT_HEADER: Final = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,"
    "付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,"
    "退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
WECHAT_SUMMARY_HEADER: Final = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)
ALIPAY_HEADER: Final = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,"
    "对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,"
    "商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,"
    "退款批次号/请求号,服务费（元）,分润（元）,备注"
)
ALIPAY_SUMMARY_HEADER: Final = (
    "门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）,支付宝优惠（元）,"
    "商家优惠（元）,卡消费金额（元）,服务费（元）,分润（元）,实收净额（元）"
)
ALIPAY_PID: Final = "20880211096256330156"
ZM_WIDTHS: Final = (
    3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2,
    6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class Txn:
    """One transaction as a channel would list it; files show ``at`` in Asia/Shanghai time."""

    out_trade_no: str
    channel_txn_id: str
    amount_fen: int
    at: datetime
    refund: bool = False
    out_refund_no: str | None = None
    fee_fen: int = 0

    def __post_init__(self) -> None:
        assert self.at.tzinfo is not None, "an aware instant"
        assert self.amount_fen > 0

    @property
    def local(self) -> datetime:
        """``at`` as Asia/Shanghai wall-clock time (naive), the way statements print it."""
        return self.at.astimezone(BUSINESS_TZ).replace(tzinfo=None)


def _yuan(fen: int) -> str:
    return fen_to_yuan(fen)


def _fee5(fen: int) -> str:
    return f"{fen_to_yuan(fen)}000"


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S")


# --- WeChat Pay trade bill (ALL) ---------------------------------------------------------


def wechat_bill(
    txns: Sequence[Txn], *, bom: bool = True, newline: str = "\r\n", gz: bool = False
) -> bytes:
    """An ALL trade bill: header, backticked rows, summary header and row (UTF-8)."""
    rows = [_wechat_row(t) for t in txns]
    pays = [t for t in txns if not t.refund]
    refunds = [t for t in txns if t.refund]
    settled = sum(t.amount_fen for t in pays)
    refunded = sum(t.amount_fen for t in refunds)
    fees = sum(t.fee_fen if not t.refund else -t.fee_fen for t in txns)
    summary = [
        f"{len(txns)}.0", _yuan(settled), _yuan(refunded), "0.0", _yuan(fees), _yuan(settled),
        _yuan(refunded),
    ]  # fmt: skip
    lines = [WECHAT_HEADER, *rows, WECHAT_SUMMARY_HEADER, ",".join("`" + s for s in summary)]
    body = (("\ufeff" if bom else "") + newline.join(lines) + newline).encode("utf-8")
    return gzip.compress(body, mtime=0) if gz else body


def write_wechat_bill(path: str, txns: Iterable[Txn]) -> int:
    """Stream an ALL trade bill to ``path`` (UTF-8, CRLF) without holding it; returns rows."""
    count = settled = refunded = fees = 0
    with open(path, "w", encoding="utf-8", newline="") as out:  # noqa: PTH123  (str path)
        out.write("\ufeff" + WECHAT_HEADER + "\r\n")
        for t in txns:
            out.write(_wechat_row(t) + "\r\n")
            count += 1
            settled += 0 if t.refund else t.amount_fen
            refunded += t.amount_fen if t.refund else 0
            fees += -t.fee_fen if t.refund else t.fee_fen
        summary = [
            f"{count}.0", _yuan(settled), _yuan(refunded), "0.0", _yuan(fees), _yuan(settled),
            _yuan(refunded),
        ]  # fmt: skip
        out.write(WECHAT_SUMMARY_HEADER + "\r\n" + ",".join("`" + x for x in summary) + "\r\n")
    return count


def _wechat_row(t: Txn) -> str:
    if t.refund:
        fields = [
            _stamp(t.local), "wxd678efh567hg6787", "1230000109", "0", "", t.channel_txn_id,
            t.out_trade_no, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "APP", "REFUND", "OTHERS", "CNY",
            "0.00", "0.00", "503" + t.channel_txn_id[-26:], t.out_refund_no or "",
            _yuan(t.amount_fen),
            "0.00", "ORIGINAL", "SUCCESS", "OTD deposit", "", _fee5(-t.fee_fen), "0.60%",
            "0.00", _yuan(t.amount_fen), "",
        ]  # fmt: skip
    else:
        fields = [
            _stamp(t.local), "wxd678efh567hg6787", "1230000109", "0", "", t.channel_txn_id,
            t.out_trade_no, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", "APP", "SUCCESS", "OTHERS", "CNY",
            _yuan(t.amount_fen), "0.00", "0", "0", "0.00", "0.00", "", "", "OTD vehicle deposit",
            "", _fee5(t.fee_fen), "0.60%", _yuan(t.amount_fen), "0.00", "",
        ]  # fmt: skip
    return ",".join("`" + f for f in fields)


# --- Alipay csv.zip ---------------------------------------------------------------------


def alipay_detail(txns: Sequence[Txn], day: date) -> bytes:
    """The ``_业务明细.csv`` entry (GBK), with TAB-suffixed fields as Alipay writes them."""
    start = day.strftime("%Y年%m月%d日")
    lines = [
        "#支付宝业务明细查询",
        f"#账号：[{ALIPAY_PID}]",
        f"#起始日期：[{start} 00:00:00]   终止日期：[{start} 23:59:59]",
        "#" + "-" * 41 + "业务明细列表" + "-" * 40,
        ALIPAY_HEADER,
        *(_alipay_row(t) for t in txns),
        "#" + "-" * 41 + "业务明细列表结束" + "-" * 36,
        f"#交易合计：{sum(not t.refund for t in txns)}笔",
        f"#退款合计：{sum(t.refund for t in txns)}笔",
        "#导出时间：[2019年09月17日 05:46:49]",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def _alipay_row(t: Txn) -> str:
    sign = "-" if t.refund else ""
    amount = sign + _yuan(t.amount_fen)
    fee = ("" if t.refund else "-") + _yuan(t.fee_fen) if t.fee_fen else "0.00"
    fields = [
        f"{t.channel_txn_id}\t", f"{t.out_trade_no}\t", "退款\t" if t.refund else "交易\t",
        "定金", _stamp(t.local), _stamp(t.local), "store_01\t", "上海门店\t", "alipay\t", "\t",
        "*津水(602***@qq.com)\t", amount, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "",
        "0.00\t", "0.00", f"{t.out_refund_no or ''}\t", fee, "0.00", "定金",
    ]  # fmt: skip
    return ",".join(fields)


def alipay_summary(txns: Sequence[Txn], day: date) -> bytes:
    """The ``_业务明细(汇总).csv`` entry (GBK) with one store row and the 合计 row."""
    start = day.strftime("%Y年%m月%d日")
    pays = sum(not t.refund for t in txns)
    refunds = sum(t.refund for t in txns)
    net = _yuan(sum(-t.amount_fen if t.refund else t.amount_fen for t in txns))
    row = f"{pays},{refunds},{net},{net},0.00,0.00,0.00,0.00,0.00,{net}"
    lines = [
        "#支付宝业务汇总查询",
        f"#账号：[{ALIPAY_PID}]",
        f"#起始日期：[{start} 00:00:00]   终止日期：[{start} 23:59:59]",
        "#" + "-" * 41 + "业务汇总列表" + "-" * 40,
        ALIPAY_SUMMARY_HEADER,
        f"store_01,上海门店,{row}",
        f"合计,,{row}",
        "#" + "-" * 40 + "业务汇总列表结束" + "-" * 37,
        "#导出时间：[2019年09月17日 05:46:49]",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def alipay_zip(
    txns: Sequence[Txn],
    day: date,
    *,
    detail: bytes | None = None,
    summary: bytes | None | bool = True,
) -> bytes:
    """The ``<PID>_<yyyyMMdd>.csv.zip`` archive with GBK entry names (no UTF-8 flag)."""
    stem = f"{ALIPAY_PID}_{day:%Y%m%d}"
    entries = [(f"{stem}_业务明细.csv", detail if detail is not None else alipay_detail(txns, day))]
    if summary is True:
        entries.append((f"{stem}_业务明细(汇总).csv", alipay_summary(txns, day)))
    elif isinstance(summary, bytes):
        entries.append((f"{stem}_业务明细(汇总).csv", summary))
    return gbk_zip(entries)


def gbk_zip(entries: Sequence[tuple[str, bytes]]) -> bytes:
    """A zip whose entry names are GBK bytes without the UTF-8 flag, as Alipay's are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            info = _GbkZipInfo(name, date_time=(2019, 9, 17, 5, 46, 49))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


class _GbkZipInfo(zipfile.ZipInfo):
    """zipfile writes non-ASCII names as UTF-8 with flag 0x800; Alipay writes GBK without it.
    ``_encodeFilenameFlags`` is zipfile's (private) hook for exactly that choice."""

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:  # noqa: N802  (zipfile's name)
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


# --- UnionPay ZM ---------------------------------------------------------------------------


def zm_record(t: Txn, *, mer_id: str = "777290058167151", trace_no: str = "067402") -> bytes:
    """One 607-byte ZM record (GBK, space separated, left-justified and space padded)."""
    values = [""] * len(ZM_WIDTHS)

    def put(number: int, text: str) -> None:
        values[number - 1] = text

    put(1, "S30" if t.refund else "S22")
    put(2, "00049992")
    put(3, "00049992")
    put(4, trace_no)
    put(5, t.local.strftime("%m%d%H%M%S"))
    put(6, "6226********0048")
    put(7, f"{t.amount_fen:012d}")
    put(8, "5311")
    put(9, "07")
    put(10, t.channel_txn_id[::-1] if t.refund else t.channel_txn_id)  # a refund's own queryId
    put(12, (t.out_refund_no or "") if t.refund else t.out_trade_no)
    put(13, "01")
    put(16, ("C" if t.refund else "D") + f"{abs(t.fee_fen):012d}")
    settle = -(t.amount_fen - t.fee_fen) if t.refund else t.amount_fen - t.fee_fen
    put(17, _dc(-settle))  # credited to us: C
    put(18, "0001")
    put(20, "01")
    put(21, "01")
    put(22, "000201")
    put(23, "01")
    put(27, t.channel_txn_id if t.refund else "")
    put(28, mer_id)
    put(33, _dc(-settle))
    put(34, "10000001")
    put(41, t.out_trade_no if t.refund else "")
    cells = [v.encode("gbk").ljust(w, b" ") for v, w in zip(values, ZM_WIDTHS, strict=True)]
    too_wide = [n for n, (c, w) in enumerate(zip(cells, ZM_WIDTHS, strict=True), 1) if len(c) > w]
    if too_wide:
        raise ValueError(f"ZM fields {too_wide} are wider than their byte widths")
    return b" ".join(cells)


def _dc(fen: int) -> str:
    """A ZM signed amount: D (debited to us) for positive, C (credited) for negative."""
    return ("D" if fen >= 0 else "C") + f"{abs(fen):012d}"


def unionpay_zm(txns: Sequence[Txn]) -> bytes:
    """A ZM file: one record per line, CRLF."""
    return b"".join(zm_record(t) + b"\r\n" for t in txns)


# --- Allinpay, cash, wire, Lakala -------------------------------------------------------


ALLINPAY_HEADER: Final = (
    "商户号,门店名称,终端号,交易时间,交易类型,交易批次号,凭证号,参考号,卡号,卡类别,发卡行机构代码,"
    "发卡行名称,交易金额,手续费,交易日期,交易单号,订单号,商户备注,对接应用号,原始金额,结算金额,"
    "产品类型,分期贴息,交易完成时间,持卡人姓名,持卡人身份证,分期数,优惠金额,实付金额,原交易单,"
    "渠道交易类型,出金方账户名称,门店编号,交易完成日期"
)


def allinpay_csv(txns: Sequence[Txn], *, header: bool = True, encoding: str = "utf-8") -> bytes:
    """The 34-column trxfile (yuan amounts)."""
    rows = [ALLINPAY_HEADER] if header else []
    for t in txns:
        amount = ("-" if t.refund else "") + _yuan(t.amount_fen)
        fee = ("-" if t.refund and t.fee_fen else "") + _yuan(t.fee_fen)
        trxid = (t.out_refund_no or "") + "T" if t.refund else t.channel_txn_id
        fields = [
            "56058104816TEST", "上海门店", "10000001", t.local.strftime("%H:%M:%S"),
            "退货" if t.refund else "消费", "000001", "000123", "123456789012", "6226****0048",
            "借记卡", "01030000", "农业银行", amount, fee, t.local.strftime("%Y-%m-%d"), trxid,
            (t.out_refund_no or "") if t.refund else t.out_trade_no, "", "00000051", amount,
            amount, "POS", "0.00", _stamp(t.local), "", "", "", "0.00", amount,
            t.channel_txn_id if t.refund else "", "银行卡", "", "S001", f"{t.local:%Y-%m-%d}",
        ]  # fmt: skip
        rows.append(",".join(fields))
    return ("\r\n".join(rows) + "\r\n").encode(encoding)


def cash_csv(txns: Sequence[Txn], day: date) -> bytes:
    """Our cashier layout (docs/recon.md)."""
    rows = ["date,store_id,receipt_no,order_ref,amount_fen,cashier,time,kind"]
    for t in txns:
        kind = "refund" if t.refund else "payment"
        rows.append(
            f"{day.isoformat()},S001,{t.channel_txn_id},{t.out_trade_no},{t.amount_fen},"
            f"cashier-7,{t.local:%H:%M:%S},{kind}"
        )
    return ("\n".join(rows) + "\n").encode("utf-8")


def wire_csv(txns: Sequence[Txn], day: date, *, yuan: bool = False) -> bytes:
    """Our bank-link layout (docs/recon.md)."""
    amount_column = "amount_yuan" if yuan else "amount_fen"
    rows = [
        "value_date,bank_account,payer_name,payer_account_last4,"
        f"{amount_column},bank_reference,remark,direction"
    ]
    for t in txns:
        amount = _yuan(t.amount_fen) if yuan else str(t.amount_fen)
        direction = "debit" if t.refund else "credit"
        rows.append(
            f"{day.isoformat()},31001234567890,张三,0048,{amount},{t.channel_txn_id},"
            f"{t.out_trade_no},{direction}"
        )
    return ("\n".join(rows) + "\n").encode("utf-8")


LAKALA_HEADER: Final = (
    "log_no,trade_no,out_trade_no,acc_trade_no,account_type,trade_type,trade_state,trade_time,"
    "total_amount,fee_amount,out_refund_no,merchant_no,term_no"
)


def lakala_csv(txns: Sequence[Txn]) -> bytes:
    """The ASSUMED Lakala layout (docs/recon.md): amounts in fen, keyed by log_no."""
    rows = [LAKALA_HEADER]
    for t in txns:
        trade_no = t.channel_txn_id
        fee = -t.fee_fen if t.refund else t.fee_fen
        trade_type = "REFUND" if t.refund else "PAY"
        rows.append(
            f"{trade_no[-14:]},{trade_no},{t.out_trade_no},4200001234{trade_no[-14:]},WECHAT,"
            f"{trade_type},SUCCESS,{t.local:%Y%m%d%H%M%S},{t.amount_fen},{fee},"
            f"{t.out_refund_no or ''},8226900581600RE,A1234567"
        )
    return ("\n".join(rows) + "\n").encode("utf-8")
