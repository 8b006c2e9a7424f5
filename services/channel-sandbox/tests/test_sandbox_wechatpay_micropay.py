"""WeChat Pay API v2 付款码 (micropay, orderquery, reverse) against the sandbox: XML signed with
the API v2 key in, signed XML out; a request that is not ours gets an unsigned FAIL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest

from channel_sandbox.channels.wechatpay import v2
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.testing import new_trade_no

Control = Callable[..., Awaitable[httpx.Response]]
PAID_CODE, PAYING_CODE, REFUSED_CODE = (
    "134567890123456781",
    "134567890123456789",
    "134567890123456788",
)


def _request(keys: SandboxKeySet, **fields: str) -> dict[str, str]:
    params = {
        "appid": keys.id("appid"),
        "mch_id": keys.id("mchid"),
        "nonce_str": "n0nce",
        "sign_type": v2.HMAC_SHA256,
        **fields,
    }
    return {**params, "sign": v2.signature(params, keys.require_apiv2_key(), v2.HMAC_SHA256)}


async def _post(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> dict[str, str]:
    response = await http.post(path, content=v2.write(params))
    assert response.status_code == 200, response.text
    return v2.read(response.content)


async def _call(
    http: httpx.AsyncClient, keys: SandboxKeySet, path: str, **fields: str
) -> dict[str, str]:
    answer = await _post(http, path, _request(keys, **fields))
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["sign"] == v2.signature(answer, keys.require_apiv2_key(), v2.HMAC_SHA256)
    return answer


def _charge(out_trade_no: str, code: str) -> dict[str, str]:
    return {
        "body": "OTD order",
        "out_trade_no": out_trade_no,
        "total_fee": "2500",
        "spbill_create_ip": "127.0.0.1",
        "auth_code": code,
    }


async def test_a_paid_code_answers_success_and_the_query_agrees(
    http: httpx.AsyncClient, key_sets: dict[str, SandboxKeySet]
) -> None:
    keys = key_sets["wechatpay"]
    out_trade_no = new_trade_no("MP")
    paid = await _call(http, keys, "/pay/micropay", **_charge(out_trade_no, PAID_CODE))
    assert (paid["result_code"], paid["trade_type"], paid["total_fee"]) == (
        "SUCCESS",
        "MICROPAY",
        "2500",
    )
    queried = await _call(http, keys, "/pay/orderquery", out_trade_no=out_trade_no)
    assert (queried["trade_state"], queried["transaction_id"]) == (
        "SUCCESS",
        paid["transaction_id"],
    )


async def test_user_paying_then_paid_then_reversed(
    http: httpx.AsyncClient, key_sets: dict[str, SandboxKeySet], control: Control
) -> None:
    keys = key_sets["wechatpay"]
    out_trade_no = new_trade_no("MP")
    paying = await _call(http, keys, "/pay/micropay", **_charge(out_trade_no, PAYING_CODE))
    assert (paying["result_code"], paying["err_code"]) == ("FAIL", "USERPAYING")
    queried = await _call(http, keys, "/pay/orderquery", out_trade_no=out_trade_no)
    assert queried["trade_state"] == "USERPAYING"
    paid = await control(channel="wechatpay", out_trade_no=out_trade_no, action="pay")
    assert paid.status_code == 202, paid.text
    reversed_ = await _call(http, keys, "/secapi/pay/reverse", out_trade_no=out_trade_no)
    assert (reversed_["result_code"], reversed_["recall"]) == ("SUCCESS", "N")
    queried = await _call(http, keys, "/pay/orderquery", out_trade_no=out_trade_no)
    assert queried["trade_state"] == "REVOKED"  # paid meanwhile: refunded by the reverse


async def test_a_refused_code_and_an_unknown_order(
    http: httpx.AsyncClient, key_sets: dict[str, SandboxKeySet]
) -> None:
    keys = key_sets["wechatpay"]
    refused = await _call(http, keys, "/pay/micropay", **_charge(new_trade_no("MP"), REFUSED_CODE))
    assert (refused["result_code"], refused["err_code"]) == ("FAIL", "AUTHCODEEXPIRE")
    unknown = await _call(http, keys, "/pay/orderquery", out_trade_no=new_trade_no("MP"))
    assert unknown["err_code"] == "ORDERNOTEXIST"


@pytest.mark.parametrize("how", ["unsigned", "tampered", "foreign_appid", "doctype"])
async def test_requests_not_signed_by_the_merchant_change_nothing(
    http: httpx.AsyncClient, key_sets: dict[str, SandboxKeySet], how: str
) -> None:
    keys = key_sets["wechatpay"]
    out_trade_no = new_trade_no("MP")
    params = _request(keys, **_charge(out_trade_no, PAID_CODE))
    body = v2.write(params)
    if how == "unsigned":
        body = v2.write({k: v for k, v in params.items() if k != "sign"})
    elif how == "tampered":
        body = v2.write({**params, "total_fee": "1"})
    elif how == "foreign_appid":
        body = v2.write(_request(keys, **_charge(out_trade_no, PAID_CODE), appid="wxforeign"))
    else:
        body = b'<!DOCTYPE xml [<!ENTITY x "y">]>' + body
    response = await http.post("/pay/micropay", content=body)
    answer = v2.read(response.content)
    assert answer["return_code"] == "FAIL"
    assert "sign" not in answer  # communication errors are unsigned, as WeChat's
    unknown = await _call(http, keys, "/pay/orderquery", out_trade_no=out_trade_no)
    assert unknown["err_code"] == "ORDERNOTEXIST"
