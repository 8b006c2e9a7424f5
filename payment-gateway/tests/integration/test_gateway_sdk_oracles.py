"""The channels' real SDKs as oracles of the gateway (test dependencies only, never runtime).

* wechatpayv3 signs the APP pay parameters the way the WeChat app SDK checks them: its
  signature over our parameters equals ours (RSA PKCS#1 v1.5 is deterministic).
* python-alipay-sdk signs our app pay order string's parameters to the same `sign`.
* python-alipay-sdk, playing Alipay with Alipay's key, builds a notification that the gateway's
  `POST /callbacks/alipay` accepts and settles.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

import pytest
from alipay import AliPay
from wechatpayv3 import WeChatPay, WeChatPayType

from channel_sandbox.keys import load_channel_keys
from otd_shared import keyfiles
from otd_shared.money import fen_to_yuan
from payment_gateway.adapters.channels.keys import ChannelKeySet, load_key_set
from payment_gateway.testing.harness import Harness

pytestmark = pytest.mark.integration


def _pem(keys: ChannelKeySet) -> tuple[str, str]:
    """(merchant private PEM, channel public PEM)."""
    return (
        keyfiles.private_pem(keys.merchant_private_key).decode(),
        keyfiles.public_pem(keys.channel_public_key).decode(),
    )


async def test_wechatpayv3_signs_our_app_pay_parameters_identically(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 10_000)
    params = created["pay_params"]
    keys = load_key_set(harness.gw.settings.keys_dir, "wechatpay")
    merchant_private, platform_public = _pem(keys)
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.APP,
        mchid=keys.id("mchid"),
        private_key=merchant_private,
        cert_serial_no=keys.id("merchant_serial"),
        appid=keys.id("appid"),
        apiv3_key=keys.require_apiv3_key().decode(),
        notify_url=harness.gw.settings.notify_url("wechatpay"),
        public_key=platform_public,
        public_key_id=keys.id("serial"),
    )
    expected = sdk.sign(
        [params["appid"], params["timestamp"], params["noncestr"], params["prepayid"]]
    )
    assert params["sign"] == expected
    assert (params["partnerid"], params["package"]) == (keys.id("mchid"), "Sign=WXPay")


def _alipay_sdk(private_pem: str, public_pem: str, app_id: str) -> AliPay:
    return AliPay(
        appid=app_id,
        app_private_key_string=private_pem,
        alipay_public_key_string=public_pem,
        sign_type="RSA2",
    )


async def test_python_alipay_sdk_signs_our_order_string_identically(harness: Harness) -> None:
    created = await harness.paying("alipay", 12_345)
    keys = load_key_set(harness.gw.settings.keys_dir, "alipay")
    merchant_private, alipay_public = _pem(keys)
    sdk = _alipay_sdk(merchant_private, alipay_public, keys.id("app_id"))
    params = dict(parse_qsl(created["pay_params"]["order_string"], keep_blank_values=True))
    ours = params.pop("sign")
    theirs = dict(parse_qsl(sdk.sign_data(dict(params)), keep_blank_values=True))["sign"]
    assert ours == theirs
    assert params["method"] == "alipay.trade.app.pay"
    assert '"total_amount":"123.45"' in params["biz_content"]


async def test_a_python_alipay_sdk_notification_is_accepted_and_settles(harness: Harness) -> None:
    created = await harness.paying("alipay", 7_700)
    keys = load_key_set(harness.gw.settings.keys_dir, "alipay")
    alipay_keys = load_channel_keys(harness.gw.settings.keys_dir, "alipay")  # Alipay's own
    channel_private = keyfiles.private_pem(alipay_keys.channel_private_key).decode()
    channel_public = keyfiles.public_pem(keys.channel_public_key).decode()
    alipay_side = _alipay_sdk(channel_private, channel_public, keys.id("app_id"))
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(time.time() + 8 * 3600))
    amount = fen_to_yuan(7_700)
    fields = {
        "notify_time": stamp,
        "notify_type": "trade_status_sync",
        "notify_id": "sdk" + created["out_trade_no"],
        "app_id": keys.id("app_id"),
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": "2024010122001400009999990001",
        "out_trade_no": created["out_trade_no"],
        "buyer_id": "2088102177846880",
        "seller_id": keys.id("seller_id"),
        "trade_status": "TRADE_SUCCESS",
        "total_amount": amount,
        "receipt_amount": amount,
        "buyer_pay_amount": amount,
        "subject": "OTD 小定",
        "gmt_create": stamp,
        "gmt_payment": stamp,
    }
    # Alipay signs everything but sign and sign_type (the SDK signs what it is given).
    body = alipay_side.sign_data(dict(fields)) + "&sign_type=RSA2"
    answer = await harness.notify(
        "alipay",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        body.encode("ascii"),
    )
    assert (answer.status_code, answer.content) == (200, b"success"), answer.text
    payment = await harness.payment(created["payment_id"])
    assert (payment["status"], payment["channel_txn_id"]) == (
        "succeeded",
        "2024010122001400009999990001",
    )
    tampered = body.replace(f"total_amount={amount}", "total_amount=0.01")
    refused = await harness.notify(
        "alipay",
        {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        tampered.encode("ascii"),
    )
    assert refused.content != b"success"
