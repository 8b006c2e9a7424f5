"""Route a scanned payment code (付款码 / auth_code) to its channel.

Follows docs/channel-formats.md §7:

* WeChat: 18 digits starting `10`–`15`; `16`–`19` are tolerated (seen in ports), never generated.
* Alipay: 16–24 digits starting `25`–`30`.
* UnionPay (云闪付): 19 digits starting `62`.

The prefix ranges do not overlap, so at most one rule matches. Anything else raises
`UnknownPaymentCode`; there is no default channel. The code is taken exactly as scanned: callers
strip the scanner's trailing CR/LF before calling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from payment_gateway.errors import UnknownPaymentCode

PaymentCodeChannel = Literal["wechatpay", "alipay", "unionpay"]

PAYMENT_CODE_LEN_MAX = 32  # Lakala passes auth_code as String(32); longer input is not a code


@dataclass(frozen=True)
class _PrefixRule:
    channel: PaymentCodeChannel
    lengths: range
    prefixes: frozenset[str]
    tolerated_prefixes: frozenset[str] = frozenset()

    def matches(self, code: str) -> bool:
        prefix = code[:2]
        in_prefixes = prefix in self.prefixes or prefix in self.tolerated_prefixes
        return len(code) in self.lengths and in_prefixes


_RULES: tuple[_PrefixRule, ...] = (
    _PrefixRule(
        channel="wechatpay",
        lengths=range(18, 19),
        prefixes=frozenset({"10", "11", "12", "13", "14", "15"}),
        tolerated_prefixes=frozenset({"16", "17", "18", "19"}),
    ),
    _PrefixRule(
        channel="alipay",
        lengths=range(16, 25),
        prefixes=frozenset({"25", "26", "27", "28", "29", "30"}),
    ),
    _PrefixRule(channel="unionpay", lengths=range(19, 20), prefixes=frozenset({"62"})),
)


def route_payment_code(code: str) -> PaymentCodeChannel:
    """Return the channel code (`wechatpay`, `alipay` or `unionpay`) for a scanned payment code.

    Raises `UnknownPaymentCode` for non-digits, wrong lengths and unknown prefixes. The error
    message does not repeat the code (it is a bearer credential while it is valid).
    """
    if not isinstance(code, str) or len(code) > PAYMENT_CODE_LEN_MAX:
        raise UnknownPaymentCode("payment code must be a string of at most 32 digits")
    if not (code.isascii() and code.isdigit()):
        raise UnknownPaymentCode("payment code must consist of ASCII digits only")
    for rule in _RULES:
        if rule.matches(code):
            return rule.channel
    raise UnknownPaymentCode(
        f"no channel accepts a {len(code)}-digit payment code with that prefix"
    )
