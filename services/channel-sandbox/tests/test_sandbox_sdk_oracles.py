"""The channels' real SDKs as oracles of the sandbox's faithfulness (test dependencies only).

* wechatpayv3 (the community SDK most Python merchants use), pointed at the sandbox over real
  HTTP, creates, queries and closes an APP order: its request signing is accepted by the
  sandbox, and it verifies every answer's platform signature itself (it raises otherwise).
* wechatpayv3's `callback()` verifies and decrypts what the sandbox notifies.
* python-alipay-sdk's `verify()` accepts the sandbox's Alipay notifications.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping

import httpx
from alipay import AliPay
from wechatpayv3 import WeChatPay, WeChatPayType

from channel_sandbox.channels import alipay as sandbox_alipay
from channel_sandbox.channels import wechatpay as sandbox_wechat
from channel_sandbox.channels.base import NotificationEvent, Outcome, RefundFacts
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.testing import Receiver, new_trade_no, wait_for
from otd_shared import keyfiles
from otd_shared.channel_wire import decode_form

Control = Callable[..., Awaitable[httpx.Response]]


def _wechat_sdk(keys: SandboxKeySet, base_url: str, notify_url: str) -> WeChatPay:
    """The merchant's SDK client: merchant key and serial, the platform public key by id."""
    sdk = WeChatPay(
        wechatpay_type=WeChatPayType.APP,
        mchid=keys.id("mchid"),
        private_key=keyfiles.private_pem(keys.require_merchant_private_key()).decode(),
        cert_serial_no=keys.id("merchant_serial"),
        appid=keys.id("appid"),
        apiv3_key=keys.require_apiv3_key().decode(),
        notify_url=notify_url,
        public_key=keyfiles.public_pem(keys.channel_public_key).decode(),
        public_key_id=keys.id("serial"),
        timeout=(5, 10),
    )
    sdk._core._gate_way = (
        base_url  # the SDK's base URL: the sandbox instead of api.mch.weixin.qq.com
    )
    return sdk


async def test_wechatpayv3_creates_queries_and_closes_an_app_order_at_the_sandbox(
    sandbox_url: str, key_sets: Mapping[str, SandboxKeySet], receiver: Receiver
) -> None:
    keys = key_sets["wechatpay"]
    sdk = _wechat_sdk(keys, sandbox_url, f"{receiver.base_url}/callbacks/wechatpay")
    out_trade_no = new_trade_no("SDK")
    code, message = await asyncio.to_thread(
        sdk.pay, description="OTD 小定", out_trade_no=out_trade_no, amount={"total": 9_900}
    )
    assert code == 200, message
    prepay_id = json.loads(message)["prepay_id"]
    assert prepay_id.startswith("wx")

    code, message = await asyncio.to_thread(sdk.query, out_trade_no=out_trade_no)
    assert code == 200, message
    queried = json.loads(message)
    assert (queried["trade_state"], queried["amount"]["total"]) == ("NOTPAY", 9_900)
    assert (queried["mchid"], queried["appid"]) == (keys.id("mchid"), keys.id("appid"))

    code, message = await asyncio.to_thread(sdk.close, out_trade_no=out_trade_no)
    assert code == 204, message
    code, message = await asyncio.to_thread(sdk.query, out_trade_no=out_trade_no)
    assert (code, json.loads(message)["trade_state"]) == (200, "CLOSED")


async def test_wechatpayv3_refuses_a_sandbox_answer_signed_badly(
    sandbox_url: str, key_sets: Mapping[str, SandboxKeySet], http: httpx.AsyncClient
) -> None:
    """The oracle is not blind: with the sandbox's bad_signature fault the SDK raises."""
    sdk = _wechat_sdk(key_sets["wechatpay"], sandbox_url, "http://127.0.0.1:9/callbacks/x")
    assert (await http.put("/sandbox/faults/wechatpay", json={"fault": "bad_signature"})).is_success
    try:
        raised = None
        try:
            await asyncio.to_thread(sdk.query, out_trade_no="NOSUCHORDER0001")
            await asyncio.to_thread(
                sdk.pay, description="x", out_trade_no=new_trade_no("SDK"), amount={"total": 1}
            )
        except Exception as error:  # noqa: BLE001 - the SDK raises a bare Exception
            raised = error
        assert raised is not None
        assert "failed to verify the signature" in str(raised)
    finally:
        await http.put("/sandbox/faults/wechatpay", json={"fault": None})


async def test_wechatpayv3_callback_accepts_the_sandbox_notification(
    sandbox_url: str, key_sets: Mapping[str, SandboxKeySet], receiver: Receiver, control: Control
) -> None:
    keys = key_sets["wechatpay"]
    sdk = _wechat_sdk(keys, sandbox_url, f"{receiver.base_url}/callbacks/wechatpay")
    out_trade_no = new_trade_no("SDK")
    code, _ = await asyncio.to_thread(
        sdk.pay, description="OTD", out_trade_no=out_trade_no, amount={"total": 12_300}
    )
    assert code == 200
    assert (
        await control(channel="wechatpay", out_trade_no=out_trade_no, action="pay")
    ).status_code == 202
    [delivered] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    result = sdk.callback(delivered.headers, delivered.body)
    assert result is not None, "wechatpayv3 rejected the sandbox's notification"
    assert result["event_type"] == "TRANSACTION.SUCCESS"
    resource = result["resource"]
    assert (resource["out_trade_no"], resource["trade_state"]) == (out_trade_no, "SUCCESS")
    assert resource["amount"]["total"] == 12_300
    assert resource["mchid"] == keys.id("mchid")
    tampered = delivered.body.replace(b"TRANSACTION.SUCCESS", b"TRANSACTION.SUCCESX")
    assert sdk.callback(delivered.headers, tampered) is None


def test_wechatpayv3_callback_accepts_a_sandbox_refund_notification(
    key_sets: Mapping[str, SandboxKeySet],
) -> None:
    keys = key_sets["wechatpay"]
    sdk = _wechat_sdk(keys, "http://127.0.0.1:9", "http://127.0.0.1:9/callbacks/wechatpay")
    event = NotificationEvent(
        out_trade_no="ORD-SDK-REFUND-1",
        channel_txn_id="4200001234202401011234567890",
        amount_fen=10_000,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(
            out_refund_no="RF-SDK-1", refund_id="50300000000000000000000000002", amount_fen=2_500
        ),
    )
    signed = sandbox_wechat.notification(keys, event, now_s=int(time.time()))
    result = sdk.callback(dict(signed.headers), signed.body)
    assert result is not None
    assert result["event_type"] == "REFUND.SUCCESS"
    assert (result["resource"]["refund_status"], result["resource"]["amount"]["refund"]) == (
        "SUCCESS",
        2_500,
    )


def _alipay_sdk(keys: SandboxKeySet) -> AliPay:
    """A merchant's python-alipay-sdk: our app key, Alipay's public key."""
    return AliPay(
        appid=keys.id("app_id"),
        app_private_key_string=keyfiles.private_pem(keys.require_merchant_private_key()).decode(),
        alipay_public_key_string=keyfiles.public_pem(keys.channel_public_key).decode(),
        sign_type="RSA2",
    )


def test_python_alipay_sdk_verifies_the_sandbox_notifications(
    key_sets: Mapping[str, SandboxKeySet],
) -> None:
    keys = key_sets["alipay"]
    sdk = _alipay_sdk(keys)
    now_s = int(time.time())
    payment = NotificationEvent(
        out_trade_no="ORD-SDK-ALI-1", channel_txn_id="2024010122001400001234567890", amount_fen=1
    )
    refund = NotificationEvent(
        out_trade_no="ORD-SDK-ALI-1",
        channel_txn_id="2024010122001400001234567890",
        amount_fen=50_000,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(out_refund_no="RF-SDK-ALI", refund_id="-", amount_fen=50_000),
    )
    for event in (payment, refund):
        signed = sandbox_alipay.notification(keys, event, now_s=now_s)
        fields = dict(decode_form(signed.body))
        sign = fields.pop("sign")
        assert sdk.verify(dict(fields), sign), fields["trade_status"]
        fields["total_amount"] = "0.02"
        assert not sdk.verify(dict(fields), sign)
