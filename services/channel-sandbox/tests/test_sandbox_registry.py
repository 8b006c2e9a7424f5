"""A sandbox channel is one package declaring a `SandboxChannel` (docs/adding-a-channel.md).

A throwaway ``paypal`` descriptor (what ``channels/paypal/channel.py`` would declare, with a
tiny wire format of its own) is added to the registry, and every list the sandbox derives
must pick it up: the key layout and ids it issues, the mounted routers, the control API's
channels, notification signing, its retry schedule and success answer, its state words, the
synchronous result, refund ids, statements and faults, and the test kit's reader, answers and
signer. Nothing else is edited. The real registry is checked against the channel packages.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from datetime import date
from pathlib import Path
from typing import Final

import httpx
import pytest
from fastapi import APIRouter, HTTPException, Request

from channel_sandbox import bills
from channel_sandbox.api.common import sandbox_of
from channel_sandbox.app import create_app, load_sandbox_keys
from channel_sandbox.channels.base import (
    Kind,
    NotificationEvent,
    Outcome,
    ReadNotification,
    RequestRejected,
    SignedNotification,
)
from channel_sandbox.config import SandboxSettings
from channel_sandbox.ids import digits
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.registry import REGISTRY, discover_channels, load_registry
from channel_sandbox.schedules import exact_body, retry_delays_s
from channel_sandbox.spec import OrderStart, SandboxChannel, SandboxChannels, UnknownChannel
from channel_sandbox.store import Order, OrderStore, PayState
from channel_sandbox.testing import (
    Receiver,
    new_trade_no,
    sandbox_reader,
    serving,
    sign_notification,
    wait_for,
)
from otd_shared.channel_wire import dump_json_compact, rsa_sign_b64, rsa_verify_b64
from otd_shared.channels import ChannelCode

CODE: Final = "paypal"
SIGNATURE_HEADER: Final = "Paypal-Transmission-Sig"
ORIGIN: Final = "paypal_wallet"  # its own origin: no edit of the shared Origin list
STATES: Final = {
    "pending": "CREATED",
    "paid": "COMPLETED",
    "failed": "DECLINED",
    "closed": "VOIDED",
}

# ------------------------------------------------------------ what its package would hold


def _notification(
    keys: SandboxKeySet, event: NotificationEvent, *, now_s: int
) -> SignedNotification:
    fields: dict[str, object] = {
        "merchant_id": keys.id("merchant_id"),
        "invoice_id": event.out_trade_no,
        "id": event.channel_txn_id,
        "amount": event.amount_fen,
        "status": event.outcome.value,
        "create_time": now_s,
        **event.extra_fields,
    }
    if event.refund is not None:
        fields |= {
            "refund_invoice": event.refund.out_refund_no,
            "refunded": event.refund.amount_fen,
        }
    body = dump_json_compact(fields)
    signature = rsa_sign_b64(keys.channel_private_key, body)
    return SignedNotification(headers={SIGNATURE_HEADER: signature}, body=body)


def _read(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> ReadNotification:
    del now_s
    lower = {name.lower(): value for name, value in headers.items()}
    if not rsa_verify_b64(keys.channel_public_key, lower.get(SIGNATURE_HEADER.lower(), ""), body):
        raise RequestRejected("bad signature")
    fields = json.loads(body)
    refund = fields.get("refund_invoice")
    return ReadNotification(
        channel=CODE,
        kind=Kind.REFUND if refund else Kind.PAYMENT,
        outcome=Outcome(fields["status"]),
        channel_status=fields["status"],
        out_trade_no=fields["invoice_id"],
        channel_txn_id=fields["id"],
        amount_fen=fields["amount"],
        out_refund_no=refund,
        refund_amount_fen=fields.get("refunded"),
        fields=fields,
    )


router = APIRouter()


@router.get("/v2/checkout/orders/{invoice_id}")
async def show_order(request: Request, invoice_id: str) -> dict[str, str]:
    sandbox = sandbox_of(request)
    order = sandbox.store.get(CODE, invoice_id)
    if order is None:
        raise HTTPException(404, "RESOURCE_NOT_FOUND")
    return {"id": order.channel_txn_id, "status": sandbox.channel_state(order)}


PAYPAL: Final = SandboxChannel(
    code=CODE,
    name="PayPal",
    key_layout=KeyLayout(issue_ids=lambda: {"merchant_id": "PP" + digits(10)}),
    start_order=lambda keys, at_s, variant: OrderStart(
        origin=ORIGIN, channel_txn_id="PAYID" + digits(12), fields={"intent": "CAPTURE"}
    ),
    new_refund_id=lambda at_s: "RF" + digits(12),
    notification=_notification,
    read_notification=_read,
    retry_intervals_s=(2, 3),
    delivered_when=exact_body(b"ACK"),
    success_answer="the exact body 'ACK'",
    merchant_ack=(200, b"ACK"),
    notifies_failures=True,
    sync_result=lambda keys, order: {"status": "COMPLETED", "id": order.channel_txn_id},
    notification_fields=lambda order, refund: {"intent": str(order.request["intent"])},
    state=lambda order: STATES[order.state.value],
    routers=(router,),
    fee_rate_per_10k=290,
)

# ------------------------------------------------------------ the sandbox that plays it


@pytest.fixture(scope="module")
def channels() -> SandboxChannels:
    return REGISTRY.with_channel(PAYPAL)


@pytest.fixture(scope="module")
def paypal_keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("paypal-keys")


@pytest.fixture(scope="module")
def paypal_keys(paypal_keys_dir: Path, channels: SandboxChannels) -> dict[str, SandboxKeySet]:
    return load_sandbox_keys(paypal_keys_dir, channels)


@pytest.fixture(scope="module")
async def merchant(
    paypal_keys: dict[str, SandboxKeySet], channels: SandboxChannels
) -> AsyncIterator[Receiver]:
    recv = Receiver(sandbox_reader(paypal_keys, channels), channels=channels)
    async with serving(recv.app()) as url:
        recv.base_url = url
        yield recv


@pytest.fixture(scope="module")
async def http(
    paypal_keys: dict[str, SandboxKeySet],
    paypal_keys_dir: Path,
    channels: SandboxChannels,
    merchant: Receiver,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = SandboxSettings(
        keys_dir=paypal_keys_dir,
        retry_scale=0.001,
        gateway_url=merchant.base_url,
        log_level="WARNING",
    )
    app = create_app(settings, key_sets=paypal_keys, channels=channels)
    async with serving(app) as url, httpx.AsyncClient(base_url=url, timeout=10.0) as client:
        yield client


def test_its_key_layout_is_created_with_the_ids_it_issues(
    paypal_keys: dict[str, SandboxKeySet], paypal_keys_dir: Path
) -> None:
    ids = json.loads((paypal_keys_dir / CODE / "ids.json").read_text())
    assert list(ids) == ["merchant_id"]
    assert ids["merchant_id"].startswith("PP")
    assert paypal_keys[CODE].id("merchant_id") == ids["merchant_id"]
    assert set(paypal_keys) == {*REGISTRY.codes(), CODE}
    assert paypal_keys[CODE].apiv3_key is None  # only a layout with apiv3_key gets one


async def test_its_router_is_mounted_and_it_is_listed(http: httpx.AsyncClient) -> None:
    ready = (await http.get("/readyz")).json()
    assert CODE in ready["channels"]
    assert "PayPal" in (await http.get("/openapi.json")).json()["info"]["description"]
    assert (await http.get("/v2/checkout/orders/NOPE")).status_code == 404


async def test_the_control_api_pays_it_and_delivers_its_signed_notification(
    http: httpx.AsyncClient, merchant: Receiver
) -> None:
    out_trade_no = new_trade_no("PP")
    merchant.fail_first[out_trade_no] = 1  # the second attempt follows its schedule
    accepted = await http.post(
        "/sandbox/actions",
        json={"channel": CODE, "action": "pay", "out_trade_no": out_trade_no, "amount_fen": 990},
    )
    assert accepted.status_code == 202, accepted.text
    assert "until the exact body 'ACK'" in accepted.json()["plan"][1]
    assert accepted.json()["order"]["origin"] == ORIGIN
    assert accepted.json()["order"]["notify_url"] == f"{merchant.base_url}/callbacks/{CODE}"
    await wait_for(lambda: len(merchant.of(out_trade_no)) == 2)
    first, second = merchant.of(out_trade_no)
    assert first.body == second.body  # no resign: the same bytes again
    note = second.notification
    assert (note.channel, note.outcome, note.amount_fen) == (CODE, Outcome.SUCCEEDED, 990)
    assert note.fields["intent"] == "CAPTURE"  # its notification_fields
    order = (await http.get(f"/sandbox/orders/{CODE}/{out_trade_no}")).json()
    assert order["channel_state"] == "COMPLETED"  # its state words
    [delivery] = order["notifications"]
    assert delivery["status"] == "delivered"  # its merchant_ack meets its delivered_when
    assert [a["accepted"] for a in delivery["attempts"]] == [False, True]
    shown = await http.get(f"/v2/checkout/orders/{out_trade_no}")
    assert shown.json() == {"id": note.channel_txn_id, "status": "COMPLETED"}


async def test_refunds_failures_and_sync_results_come_from_it(
    http: httpx.AsyncClient, merchant: Receiver
) -> None:
    paid, failing = new_trade_no("PP"), new_trade_no("PP")
    await http.post(
        "/sandbox/actions",
        json={"channel": CODE, "action": "pay", "out_trade_no": paid, "amount_fen": 1_000},
    )
    refund = await http.post(
        "/sandbox/actions",
        json={"channel": CODE, "action": "refund", "out_trade_no": paid, "refund_amount_fen": 300},
    )
    assert refund.status_code == 202, refund.text
    [made] = refund.json()["order"]["refunds"]
    assert made["refund_id"].startswith("RF")  # its new_refund_id
    await wait_for(lambda: len(merchant.of(paid)) == 2)
    [refunded] = [r for r in merchant.of(paid) if r.notification.kind is Kind.REFUND]
    assert refunded.notification.refund_amount_fen == 300

    sync = await http.post(
        "/sandbox/actions",
        json={"channel": CODE, "action": "succeed_sync_then_fail", "out_trade_no": failing,
              "amount_fen": 500, "delay_ms": 0},
    )  # fmt: skip
    assert sync.status_code == 202, sync.text
    assert sync.json()["sync_result"]["status"] == "COMPLETED"
    assert "with a failure notification" in sync.json()["plan"][1]  # notifies_failures
    await wait_for(lambda: merchant.of(failing))
    [failed] = merchant.of(failing)
    assert failed.notification.outcome is Outcome.FAILED


async def test_statements_faults_and_unknown_codes(http: httpx.AsyncClient) -> None:
    fail_next = {"channel": CODE, "count": 1, "status": 503}
    assert (await http.post("/sandbox/bills/fail-next", json=fail_next)).status_code == 202
    no_bill = {**fail_next, "channel": "allinpay"}  # a channel without a statement
    assert (await http.post("/sandbox/bills/fail-next", json=no_bill)).status_code == 422
    fault = await http.put(f"/sandbox/faults/{CODE}", json={"fault": "error"})
    assert fault.json() == {CODE: "error"}
    await http.put(f"/sandbox/faults/{CODE}", json={"fault": None})
    for bad in (
        http.get("/sandbox/orders/bogus/X1"),
        http.get("/sandbox/notifications", params={"channel": "bogus"}),
        http.put("/sandbox/faults/bogus", json={"fault": None}),
        http.post("/sandbox/actions", json={"channel": "bogus", "action": "pay",
                                            "out_trade_no": "X1", "amount_fen": 1}),
    ):  # fmt: skip
        answer = await bad
        assert answer.status_code == 422, answer.text
        assert "unknown channel 'bogus'" in answer.text


def test_its_statement_fee_and_schedule(channels: SandboxChannels) -> None:
    store = OrderStore(100)
    order = Order(CODE, "PP-1", 10_000, ORIGIN, "PAYID1", None, 0)
    order.state, order.paid_s = PayState.PAID, 1_700_000_000
    store.add(order)
    [txn] = bills.day_txns(store, channels.channel(CODE), bills.local_day(1_700_000_000))
    assert txn.fee_fen == 290  # 2.90 % of 100.00 yuan
    assert channels.with_statements()[-1] == CODE
    assert retry_delays_s(channels.channel(CODE), 0.5) == (1.0, 1.5)
    assert bills.day_txns(store, channels.channel(CODE), date(2000, 1, 1)) == []


def test_the_test_kit_signs_and_reads_it(
    paypal_keys: dict[str, SandboxKeySet], channels: SandboxChannels
) -> None:
    event = NotificationEvent(out_trade_no="PP-2", channel_txn_id="PAYID2", amount_fen=5)
    signed = sign_notification(paypal_keys[CODE], event, now_s=1, channels=channels)
    read = sandbox_reader(paypal_keys, channels)(CODE, signed.headers, signed.body)
    assert read.out_trade_no == "PP-2"
    with pytest.raises(UnknownChannel, match="unknown channel 'paypal'"):
        sign_notification(paypal_keys[CODE], event, now_s=1)  # the real registry has none


def test_the_registry_is_the_channel_packages_and_refuses_misfits() -> None:
    packages = dict(discover_channels())
    assert tuple(packages) == tuple(sorted(REGISTRY.codes()))
    assert REGISTRY.codes() == tuple(c for c in ChannelCode if c in packages)
    assert all(channel.code == package for package, channel in packages.items())
    with pytest.raises(ImportError, match="no such code in the catalogue"):
        load_registry([(CODE, PAYPAL)])
    with pytest.raises(ImportError, match="declares the code 'paypal'"):
        load_registry([("alipay", PAYPAL)])
    twice = [("alipay", REGISTRY.channel("alipay"))] * 2
    with pytest.raises(ImportError, match="two sandbox channels"):
        load_registry(twice)
    with pytest.raises(UnknownChannel):
        REGISTRY.channel(CODE)
