"""Bad input the channel quirks must refuse, and where the quirks are declared (spec.py).

* Alipay: a genuine notification without ``seller_id`` is refused (it must be present and ours).
* UnionPay: ``currencyCode`` / ``settleCurrencyCode`` other than 156 (CNY) are refused.
"""

from __future__ import annotations

import pytest

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.contract import (
    NotificationKind,
    Outcome,
    VerifiedNotification,
    check_merchant_ids,
)
from payment_gateway.adapters.channels.registry import REGISTRY
from payment_gateway.adapters.channels.spec import RefundMatch
from payment_gateway.adapters.channels.unionpay import protocol as unionpay
from payment_gateway.errors import UnsupportedCurrency, WrongMerchant

OURS = {"app_id": "2021000000000000", "seller_id": "2088102177640000"}
ALIPAY = REGISTRY.spec(ChannelCode.ALIPAY)


def _alipay(**merchant_ids: str) -> VerifiedNotification:
    return VerifiedNotification(
        channel=ChannelCode.ALIPAY,
        kind=NotificationKind.PAYMENT,
        outcome=Outcome.SUCCEEDED,
        channel_status="TRADE_SUCCESS",
        out_trade_no="P260101000000000000000000000",
        channel_txn_id="2026010122001400001234567890",
        amount_fen=100,
        merchant_ids=merchant_ids,
    )


def _check(vn: VerifiedNotification) -> None:
    check_merchant_ids(
        vn, OURS, required=ALIPAY.required_merchant_ids, aliases=ALIPAY.merchant_id_aliases
    )


def test_alipay_notification_with_our_ids_passes() -> None:
    _check(_alipay(**OURS, auth_app_id=OURS["app_id"]))


def test_alipay_notification_without_seller_id_is_refused() -> None:
    with pytest.raises(WrongMerchant, match="carries no seller_id"):
        _check(_alipay(app_id=OURS["app_id"]))
    # without the channel's requirement the old rule (compare what is present) let it pass
    check_merchant_ids(_alipay(app_id=OURS["app_id"]), OURS)


@pytest.mark.parametrize(
    "ids",
    [
        {"app_id": OURS["app_id"], "seller_id": "2088000000000001"},
        {**OURS, "auth_app_id": "2021000000000009"},
    ],
)
def test_alipay_foreign_ids_are_refused(ids: dict[str, str]) -> None:
    with pytest.raises(WrongMerchant, match="is not ours"):
        _check(_alipay(**ids))


def test_the_quirks_live_in_the_channel_specs() -> None:
    assert ALIPAY.required_merchant_ids == ("app_id", "seller_id")
    assert dict(ALIPAY.merchant_id_aliases) == {"auth_app_id": "app_id"}
    assert ALIPAY.cumulative_refunds
    lakala = REGISTRY.spec(ChannelCode.LAKALA)
    assert lakala.refund_match is RefundMatch.REFUND_NO_OR_PAYMENT_AMOUNT
    others = [spec for spec in REGISTRY if spec.code not in (ChannelCode.ALIPAY,)]
    assert not any(spec.cumulative_refunds or spec.merchant_id_aliases for spec in others)


UNIONPAY_FIELDS = {
    "accessType": "0",
    "bizType": "000201",
    "currencyCode": "156",
    "encoding": "utf-8",
    "merId": "777290058167151",
    "orderId": "P260101000000000000000000000",
    "queryId": "782209081322060674028",
    "respCode": "00",
    "respMsg": "success",
    "settleAmt": "1",
    "settleCurrencyCode": "156",
    "signMethod": "01",
    "signature": "x",
    "txnAmt": "1",
    "txnSubType": "01",
    "txnTime": "20220908132206",
    "txnType": "01",
    "version": "5.1.0",
}


def test_unionpay_cny_is_accepted() -> None:
    assert unionpay.parse_notification(UNIONPAY_FIELDS).txn_amt_fen == 1


@pytest.mark.parametrize("name", ["currencyCode", "settleCurrencyCode"])
@pytest.mark.parametrize("code", ["840", "344", "", "CNY"])
def test_unionpay_other_currencies_are_refused(name: str, code: str) -> None:
    with pytest.raises(UnsupportedCurrency, match=name):
        unionpay.parse_notification(UNIONPAY_FIELDS | {name: code})
