"""Channel-side identifiers in each channel's usual shape, and the channels' clock formats.

Which channel uses which is its `SandboxChannel`'s business (``channels/<code>/channel.py``);
a new channel may keep its id shapes in its own package.

Random digits come from `secrets` so ids never repeat across sandbox restarts in practice
(the gateway stores them with unique constraints).
"""

from __future__ import annotations

import secrets
import time
from typing import Final

from otd_shared.channel_wire import channel_time

WECHAT_TXN_ID_LEN: Final = 28
WECHAT_REFUND_ID_LEN: Final = 29
ALIPAY_TRADE_NO_LEN: Final = 28
LAKALA_TRADE_NO_LEN: Final = 22
LAKALA_LOG_NO_LEN: Final = 14
LAKALA_PAY_ORDER_NO_LEN: Final = 24
UNIONPAY_QUERY_ID_LEN: Final = 21
ALLINPAY_TRXID_LEN: Final = 18

ALIPAY_TIME: Final = "%Y-%m-%d %H:%M:%S"
LAKALA_TIME: Final = "%Y%m%d%H%M%S"


def now_s() -> int:
    """The current Unix time in whole seconds (what every channel signs)."""
    return int(time.time())


def digits(count: int) -> str:
    """`count` random decimal digits."""
    return "".join(str(secrets.randbelow(10)) for _ in range(count))


def _dated(prefix: str, at_s: int, total_len: int) -> str:
    head = prefix + channel_time(at_s).strftime("%Y%m%d")
    assert len(head) < total_len
    return head + digits(total_len - len(head))


def wechat_transaction_id(at_s: int) -> str:
    """28 digits, e.g. `4200001234202401011234567890`."""
    return "4200" + digits(6) + channel_time(at_s).strftime("%Y%m%d") + digits(10)


def wechat_refund_id(at_s: int) -> str:
    """29 digits starting `50`."""
    return _dated("503000", at_s, WECHAT_REFUND_ID_LEN)


def wechat_prepay_id(at_s: int) -> str:
    """`wx` + yyyyMMddHHmmss + 20 hex characters (36 characters, as WeChat issues them)."""
    return "wx" + channel_time(at_s).strftime(LAKALA_TIME) + secrets.token_hex(10)


def alipay_trade_no(at_s: int) -> str:
    """28 digits: date, `22`, then digits."""
    return channel_time(at_s).strftime("%Y%m%d") + "22001" + digits(15)


def lakala_trade_no(at_s: int) -> str:
    """22 digits; its last 14 are the `log_no` (the statement key)."""
    return _dated("", at_s, LAKALA_TRADE_NO_LEN)


def lakala_pay_order_no(at_s: int) -> str:
    """收银台 `pay_order_no`, 24 digits."""
    return _dated("", at_s, LAKALA_PAY_ORDER_NO_LEN)


def lakala_log_no(trade_no: str) -> str:
    """The last 14 characters of a Lakala `trade_no`."""
    return trade_no[-LAKALA_LOG_NO_LEN:]


def unionpay_query_id(at_s: int) -> str:
    """21 digits."""
    return _dated("", at_s, UNIONPAY_QUERY_ID_LEN)


def allinpay_trxid(at_s: int) -> str:
    """18 digits."""
    return _dated("", at_s, ALLINPAY_TRXID_LEN)


def sandbox_refund_no() -> str:
    """An out_refund_no for refunds the sandbox starts itself (control API)."""
    return "SBXRF" + secrets.token_hex(8).upper()


def rfc3339(at_s: int) -> str:
    """`2024-01-01T10:00:05+08:00`, as WeChat writes times."""
    return channel_time(at_s).isoformat()


def alipay_time(at_s: int) -> str:
    return channel_time(at_s).strftime(ALIPAY_TIME)


def lakala_time(at_s: int) -> str:
    return channel_time(at_s).strftime(LAKALA_TIME)
