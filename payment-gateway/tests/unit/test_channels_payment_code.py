"""Payment-code (付款码) routing (payment_code; docs/channel-formats.md §7)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_gateway.adapters.channels.payment_code import route_payment_code
from payment_gateway.errors import UnknownPaymentCode


@pytest.mark.parametrize(
    ("code", "channel"),
    [
        ("134567890123456789", "wechatpay"),
        ("104567890123456789", "wechatpay"),
        ("154567890123456789", "wechatpay"),
        ("164567890123456789", "wechatpay"),  # tolerated prefix 16-19
        ("194567890123456789", "wechatpay"),
        ("28763443825664394", "alipay"),  # the doc's example, 17 digits
        ("2500000000000000", "alipay"),  # 16 digits
        ("300000000000000000000000", "alipay"),  # 24 digits
        ("6212345678901234567", "unionpay"),
    ],
)
def test_routes_known_codes(code: str, channel: str) -> None:
    assert route_payment_code(code) == channel


@pytest.mark.parametrize(
    "code",
    [
        "13456789012345678",  # WeChat prefix, 17 digits
        "1345678901234567890",  # WeChat prefix, 19 digits
        "204567890123456789",  # 20 is nobody's
        "250000000000000",  # Alipay prefix, 15 digits
        "2500000000000000000000000",  # Alipay prefix, 25 digits
        "311234567890123456",
        "621234567890123456",  # UnionPay prefix, 18 digits
        "631234567890123456789",
        "",
        "13456789012345678a",
        "１34567890123456789",
        " 134567890123456789",
        "9" * 40,
    ],
)
def test_rejects_unknown_codes(code: str) -> None:
    with pytest.raises(UnknownPaymentCode) as caught:
        route_payment_code(code)
    if code:
        assert code not in str(caught.value)


@given(st.text(alphabet="0123456789", min_size=1, max_size=32))
def test_every_routed_code_satisfies_its_rule(code: str) -> None:
    try:
        channel = route_payment_code(code)
    except UnknownPaymentCode:
        return
    prefix = int(code[:2])
    if channel == "wechatpay":
        assert len(code) == 18
        assert 10 <= prefix <= 19
    elif channel == "alipay":
        assert 16 <= len(code) <= 24
        assert 25 <= prefix <= 30
    else:
        assert len(code) == 19
        assert prefix == 62
