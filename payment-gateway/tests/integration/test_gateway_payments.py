"""POST /v1/payments: routing, the channels' pay parameters, idempotency, unknown outcomes."""

from __future__ import annotations

import asyncio
import base64
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from channel_sandbox.channels import alipay as sandbox_alipay
from channel_sandbox.keys import load_channel_keys
from otd_shared.events import BillingPaid, new_envelope
from payment_gateway.adapters.channels.keys import load_key_set
from payment_gateway.adapters.channels.wechatpay import protocol as wechat
from payment_gateway.adapters.tables import payments
from payment_gateway.service_layer.event_handlers import on_billings_paid
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration


async def test_wechat_app_pay_returns_the_signed_app_parameters(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 10_000)
    assert set(created) >= {"payment_id", "out_trade_no", "channel", "status"}
    assert created["channel"] == "wechatpay"
    assert created["method"] == "app"
    assert 6 <= len(created["out_trade_no"]) <= 32
    params = wechat.AppPayParams(**created["pay_params"])
    keys = load_key_set(harness.gw.settings.keys_dir, "wechatpay")
    assert params.package == "Sign=WXPay"
    message = f"{params.appid}\n{params.timestamp}\n{params.noncestr}\n{params.prepayid}\n"
    keys.merchant_public_key.verify(  # what WeChat's app SDK checks, in raw crypto
        base64.b64decode(params.sign), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert params.partnerid == keys.id("mchid")
    order = harness.sandbox.order("wechatpay", created["out_trade_no"])
    assert order.amount_fen == 10_000
    assert order.notify_url == harness.gw.settings.notify_url("wechatpay")


async def test_alipay_app_pay_order_string_is_signed_and_carries_our_notify_url(
    harness: Harness,
) -> None:
    created = await harness.paying("alipay", 12_345)
    alipay_side = load_channel_keys(harness.gw.settings.keys_dir, "alipay")
    params = sandbox_alipay.verify_order_string(alipay_side, created["pay_params"]["order_string"])
    assert params["notify_url"].endswith("/callbacks/alipay")
    assert '"total_amount":"123.45"' in params["biz_content"]
    assert created["out_trade_no"] in params["biz_content"]


@pytest.mark.parametrize(
    ("method", "param"),
    [
        ("app_quick_pay", "counter_url"),
        ("web_quick_pay", "counter_url"),
        ("web_banking", "counter_url"),
        ("wechat_qr", "code_url"),
        ("alipay_qr", "code_url"),
    ],
)
async def test_lakala_methods_through_one_adapter(
    harness: Harness, method: str, param: str
) -> None:
    created = await harness.paying("lakala", 8_800, method=method)
    assert created["method"] == method
    assert created["pay_params"][param]
    assert harness.sandbox.order("lakala", created["out_trade_no"]).amount_fen == 8_800


@pytest.mark.parametrize("channel", ["unionpay", "allinpay"])
async def test_pos_channels_give_an_order_qr_on_firm_billings(
    harness: Harness, channel: str
) -> None:
    created = await harness.paying(channel, 9_000_000, stage="firm")
    assert created["pay_params"]["order_qr"].endswith(created["out_trade_no"])


async def test_intent_billing_is_paid_online_only(harness: Harness) -> None:
    billing = await harness.due_billing(stage="intent")
    refused = await harness.start(billing, "unionpay", 10_000)
    assert refused.status_code == 422
    assert refused.json()["reason"] == "stage_not_allowed"
    assert refused.json()["suggested_channels"] == "wechatpay,alipay,lakala"


async def test_above_the_online_limit_suggests_the_offline_options(harness: Harness) -> None:
    billing = await harness.due_billing(stage="firm", amount_fen=20_000_000)
    refused = await harness.start(billing, "wechatpay", 5_000_001)
    assert refused.status_code == 422
    body = refused.json()
    assert body["reason"] == "over_online_limit"
    assert body["field"] == "amount_fen"
    assert body["suggested_channels"] == "unionpay,allinpay,cash,wire"
    assert "50000.00 CNY" in body["detail"]
    assert "POS card terminal" in body["detail"]
    assert "bank transfer" in body["detail"]
    at_limit = await harness.start(billing, "wechatpay", 5_000_000)
    assert at_limit.status_code == 201, at_limit.text
    offline = await harness.start(billing, "unionpay", 9_000_000)
    assert offline.status_code == 201


async def test_limits_and_switches_are_configurable(make_harness: Any) -> None:
    async with make_harness(
        online_single_payment_limit_fen=100_000,
        channel_limits_fen={"alipay": 200_000},
        channels={"lakala": {"enabled": False}},
    ) as h:
        billing = await h.due_billing(stage="final", amount_fen=1_000_000)
        assert (await h.start(billing, "wechatpay", 100_001)).status_code == 422
        assert (await h.start(billing, "alipay", 200_000)).status_code == 201
        disabled = await h.start(billing, "lakala", 1_000)
        assert disabled.status_code == 422
        assert disabled.json()["reason"] == "channel_disabled"


async def test_refusals_name_the_problem(harness: Harness) -> None:
    billing = await harness.due_billing(stage="firm", amount_fen=100_000)
    cash = await harness.start(billing, "cash", 1_000)
    assert (cash.status_code, cash.json()["reason"]) == (422, "channel_not_startable")
    method = await harness.start(billing, "wechatpay", 1_000, method="swipe")
    assert (method.status_code, method.json()["reason"]) == (422, "unknown_method")
    too_much = await harness.start(billing, "alipay", 100_001)
    assert (too_much.status_code, too_much.json()["field"]) == (422, "amount_fen")
    unknown = await harness.start(uuid.uuid4(), "alipay", 1_000)
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_billing")
    async with harness.gw.uow() as uow:
        await on_billings_paid(uow, [_billing_paid(billing)])
        await uow.commit()
    paid = await harness.start(billing, "alipay", 1_000)
    assert (paid.status_code, paid.json()["code"]) == (409, "billing_not_payable")


def _billing_paid(billing_id: uuid.UUID) -> Any:
    return new_envelope(
        BillingPaid(
            order_id=str(uuid.uuid4()),
            billing_id=str(billing_id),
            stage="firm",
            amount_fen=100_000,
            paid_fen=100_000,
        ),
        producer="test",
        correlation_id="c",
    )


async def test_a_run_of_billing_paid_closes_each_billing_in_one_statement(
    harness: Harness,
) -> None:
    """The consumer's batch handler: paid billings (one twice, one unknown) in one UPDATE;
    a billing not in the run stays payable."""
    paid = [await harness.due_billing(stage="firm", amount_fen=100_000) for _ in range(3)]
    other = await harness.due_billing(stage="firm", amount_fen=100_000)
    run = [_billing_paid(b) for b in [*paid, paid[0], uuid.uuid4()]]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    async with harness.gw.uow() as uow:
        engine = uow.session.bind
        sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            await on_billings_paid(uow, run)
        finally:
            sa.event.remove(engine.sync_engine, "before_cursor_execute", count)
        await uow.commit()
    assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    for billing in paid:
        refused = await harness.start(billing, "alipay", 1_000)
        assert (refused.status_code, refused.json()["code"]) == (409, "billing_not_payable")
    assert (await harness.start(other, "alipay", 1_000)).status_code == 201


async def test_auth(harness: Harness) -> None:
    billing = await harness.due_billing()
    body = {"billing_id": str(billing), "channel": "alipay", "amount_fen": 100}
    headers = {"Idempotency-Key": "k-auth"}
    assert (
        await harness.client.post("/v1/payments", json=body, headers=headers)
    ).status_code == 401
    installer = {**headers, **auth("installer")}
    assert (
        await harness.client.post("/v1/payments", json=body, headers=installer)
    ).status_code == 403
    missing_key = await harness.client.post("/v1/payments", json=body, headers=auth())
    assert (missing_key.status_code, missing_key.json()["code"]) == (
        422,
        "idempotency_key_required",
    )
    floats = await harness.client.post(
        "/v1/payments", json={**body, "amount_fen": 1.5}, headers={**headers, **auth()}
    )
    assert floats.status_code == 422


async def _payment_count(harness: Harness, billing_id: uuid.UUID) -> int:
    async with harness.gw.sessions() as session:
        return int(
            await session.scalar(
                sa.select(sa.func.count()).where(payments.c.billing_id == billing_id)
            )
            or 0
        )


async def test_same_key_same_body_replays_the_first_response(harness: Harness) -> None:
    billing = await harness.due_billing()
    first = await harness.start(billing, "wechatpay", 3_000, key="replay-1")
    again = await harness.start(billing, "wechatpay", 3_000, key="replay-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert await _payment_count(harness, billing) == 1
    other = await harness.start(billing, "wechatpay", 3_001, key="replay-1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


async def test_an_error_is_replayed_too(harness: Harness) -> None:
    billing = await harness.due_billing(stage="firm", amount_fen=10_000_000)
    first = await harness.start(billing, "alipay", 6_000_000, key="replay-err")
    again = await harness.start(billing, "alipay", 6_000_000, key="replay-err")
    assert first.status_code == again.status_code == 422
    assert first.json() == again.json()


async def test_concurrent_requests_with_one_key_execute_once(harness: Harness) -> None:
    billing = await harness.due_billing()
    calls_before = len(harness.sandbox.calls())
    answers = await asyncio.gather(
        *(harness.start(billing, "wechatpay", 4_000, key="concurrent-1") for _ in range(8))
    )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["payment_id"] for a in answers}) == 1
    assert await _payment_count(harness, billing) == 1
    prepays = [
        c for c in harness.sandbox.calls()[calls_before:] if c[:2] == ("wechatpay", "prepay")
    ]
    assert len(prepays) == 1


async def test_keys_are_scoped_per_caller_role(harness: Harness) -> None:
    billing = await harness.due_billing(stage="firm")
    app = await harness.start(billing, "alipay", 1_000, key="shared-key")
    cashier = await harness.start(billing, "alipay", 1_000, key="shared-key", role="cashier")
    assert app.json()["payment_id"] != cashier.json()["payment_id"]


async def test_a_channel_timeout_is_unknown_never_failed(make_harness: Any) -> None:
    async with make_harness(channel_read_timeout_s=0.2, channel_failures_to_open=2) as h:
        billing = await h.due_billing(amount_fen=1_000_000)
        with h.sandbox.faulty("wechatpay", "timeout"):
            first = await h.start(billing, "wechatpay", 1_000)
            assert first.status_code == 201
            assert first.json()["status"] == "unknown"
            assert first.json()["pay_params"] == {}
            await h.start(billing, "wechatpay", 1_000)
            out = await h.start(billing, "wechatpay", 1_000)
            assert (out.status_code, out.json()["code"]) == (503, "channel_unavailable")
            assert "out of rotation" in out.json()["detail"]
            other = await h.start(billing, "alipay", 1_000)
            assert other.status_code == 201
            channels = (await h.client.get("/v1/channels", headers=auth("sre"))).json()
            assert {c["channel"]: c["health"] for c in channels}["wechatpay"] == "open"


@pytest.mark.parametrize("mode", ["error", "bad_signature"])
async def test_unusable_channel_answers_leave_the_outcome_unknown(
    harness: Harness, mode: str
) -> None:
    billing = await harness.due_billing()
    with harness.sandbox.faulty("wechatpay", mode):
        created = await harness.start(billing, "wechatpay", 1_000)
    assert created.status_code == 201
    assert created.json()["status"] == "unknown"


async def test_reads(harness: Harness) -> None:
    created = await harness.paying("alipay", 5_000)
    got = await harness.client.get(f"/v1/payments/{created['payment_id']}", headers=auth("cashier"))
    assert got.json() == created
    listed = await harness.client.get(
        f"/v1/billings/{created['billing_id']}/payments", headers=auth("finance")
    )
    assert [p["payment_id"] for p in listed.json()] == [created["payment_id"]]
    missing = await harness.client.get(f"/v1/payments/{uuid.uuid4()}", headers=auth())
    assert missing.status_code == 404
    payable = await harness.client.get(
        f"/v1/orders/{created['order_id']}/payable-billings", headers=auth()
    )
    assert payable.json()[0]["billing_id"] == created["billing_id"]


async def test_startup_fails_fast_when_an_enabled_channel_lacks_keys(
    gateway_db: str, gateway_keys_dir: Any, tmp_path: Any
) -> None:
    import json
    import shutil

    from payment_gateway.bootstrap import ENTRY
    from payment_gateway.config import GatewaySettings
    from payment_gateway.errors import ChannelConfigError

    partial = tmp_path / "keys"
    shutil.copytree(gateway_keys_dir, partial)
    shutil.rmtree(partial / "lakala")
    settings = {"database_url": gateway_db, "keys_dir": partial, "auth_tokens_json": json.dumps({})}
    runtime = ENTRY.build_runtime(GatewaySettings(**settings))
    with pytest.raises(ChannelConfigError) as refused:
        ENTRY.create_app(runtime)
    message = str(refused.value)
    assert "lakala is enabled but its keys are not usable" in message
    assert "LAKALA_ENABLED=false" in message
    assert "wechatpay" not in message  # only the channel that lacks keys is named
    await runtime.engine.dispose()
    switched_off = ENTRY.build_runtime(
        GatewaySettings(**settings, channels={"lakala": {"enabled": False}})
    )
    app = ENTRY.create_app(switched_off)
    assert "lakala" not in app.state.gateway.protocols
    await switched_off.aclose_channels()
    await switched_off.engine.dispose()
