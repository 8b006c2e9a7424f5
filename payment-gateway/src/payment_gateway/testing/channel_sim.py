"""A tiny channel side for tests: WeChat Pay, Alipay and Lakala server APIs on one FastAPI app.

It speaks the agreed real paths, verifies OUR request signatures with the merchant public keys,
and signs its answers with the channel private keys (dev key layout), exactly as the channel
sandbox does; tests drive it in-process (``pay``, ``fail_mode``) and send notifications with the
protocols' channel-side signers. Not used in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote_plus

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

from otd_shared.infra import free_port
from otd_shared.money import fen_to_yuan, wire_yuan_to_fen
from payment_gateway.adapters.channels.alipay import protocol as alipay
from payment_gateway.adapters.channels.errors import CallbackRejected
from payment_gateway.adapters.channels.keys import ChannelKeySet, load_key_set
from payment_gateway.adapters.channels.lakala import protocol as lakala
from payment_gateway.adapters.channels.rsa_signing import sign_b64, verify_b64
from payment_gateway.adapters.channels.wechatpay import protocol as wechat
from payment_gateway.adapters.channels.wire import dump_json_compact, parse_json_object

FailMode = Literal["timeout", "error", "bad_signature"]
TIMEOUT_SLEEP_S = 1.5


@dataclass
class SimOrder:
    """An order the channel knows."""

    channel: str
    out_trade_no: str
    amount_fen: int
    notify_url: str
    method: str = "app"
    state: str = "NOTPAY"  # WeChat words; mapped per channel on the way out
    txn_id: str = field(default_factory=lambda: "42000" + secrets.token_hex(11)[:23])


@dataclass
class SimRefund:
    """A refund the channel knows."""

    channel: str
    out_trade_no: str
    out_refund_no: str
    amount_fen: int
    state: str = "PROCESSING"
    refund_id: str = field(default_factory=lambda: "503" + secrets.token_hex(13))


class ChannelSim:
    """The channels' server side for tests."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys: dict[str, ChannelKeySet] = {
            c: load_key_set(keys_dir, c) for c in ("wechatpay", "alipay", "lakala")
        }
        self.orders: dict[str, SimOrder] = {}
        self.refunds: dict[str, SimRefund] = {}
        self.fail_mode: dict[str, FailMode | None] = {}
        self.calls: list[tuple[str, str]] = []
        self.app = self._build_app()
        self.url = ""

    # --- test controls ---------------------------------------------------------------

    def pay(self, out_trade_no: str) -> SimOrder:
        """The buyer paid."""
        order = self.orders[out_trade_no]
        order.state = "SUCCESS"
        return order

    def set_state(self, out_trade_no: str, state: str) -> None:
        """Force an order state (WeChat words: NOTPAY, SUCCESS, CLOSED, PAYERROR)."""
        self.orders[out_trade_no].state = state

    def add_alipay_order(self, out_trade_no: str, amount_fen: int, notify_url: str) -> SimOrder:
        """Alipay learns of an app-pay order only when the buyer opens it."""
        order = SimOrder("alipay", out_trade_no, amount_fen, notify_url)
        self.orders[out_trade_no] = order
        return order

    def settle_refund(self, out_refund_no: str, state: str = "SUCCESS") -> SimRefund:
        """The channel finished a refund."""
        refund = self.refunds[out_refund_no]
        refund.state = state
        return refund

    # --- serving ---------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[ChannelSim]:
        """Run on a free loopback port for the duration of the block."""
        port = free_port()
        server = _QuietServer(
            uvicorn.Config(
                self.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
            )
        )
        task = asyncio.create_task(server.serve())
        await _wait_started(server)
        self.url = f"http://127.0.0.1:{port}"
        try:
            yield self
        finally:
            server.should_exit = True
            await task

    async def _maybe_fail(self, channel: str) -> Response | None:
        mode = self.fail_mode.get(channel)
        if mode == "timeout":
            await asyncio.sleep(TIMEOUT_SLEEP_S)
        if mode == "error":
            return Response(b'{"code":"SYSTEM_ERROR"}', status_code=500)
        return None

    def _build_app(self) -> FastAPI:
        app = FastAPI()
        app.add_api_route("/v3/pay/transactions/app", self._wechat_prepay, methods=["POST"])
        app.add_api_route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}", self._wechat_query, methods=["GET"]
        )
        app.add_api_route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            self._wechat_close,
            methods=["POST"],
        )
        app.add_api_route("/v3/refund/domestic/refunds", self._wechat_refund, methods=["POST"])
        app.add_api_route(
            "/v3/refund/domestic/refunds/{out_refund_no}",
            self._wechat_refund_query,
            methods=["GET"],
        )
        app.add_api_route("/gateway.do", self._alipay_gateway, methods=["POST"])
        for path in (
            "/api/v3/labs/trans/preorder",
            "/api/v3/labs/query/tradequery",
            "/api/v3/labs/relation/refund",
            "/api/v3/ccss/counter/order/create",
            "/api/v3/ccss/counter/order/query",
        ):
            app.add_api_route(path, self._lakala, methods=["POST"])
        return app

    # --- WeChat Pay ------------------------------------------------------------------

    async def _wechat_verified(self, request: Request) -> bytes | Response:
        self.calls.append(("wechatpay", request.url.path))
        body = await request.body()
        keys = self.keys["wechatpay"]
        url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        try:
            wechat.verify_authorization(
                request.headers.get("Authorization", ""),
                method=request.method,
                url=url,
                body=body,
                merchant_public_key=keys.merchant_public_key,
                expected_mchid=keys.id("mchid"),
                expected_serial_no=keys.id("merchant_serial"),
                now_s=_now_s(),
            )
        except CallbackRejected:
            return self._wechat_answer({"code": "SIGN_ERROR", "message": "签名错误"}, 401)
        return (await self._maybe_fail("wechatpay")) or body

    def _wechat_answer(self, data: Mapping[str, object] | None, status: int = 200) -> Response:
        keys = self.keys["wechatpay"]
        body = dump_json_compact(dict(data)) if data is not None else b""
        headers = wechat.sign_message_headers(
            body, private_key=keys.channel_signing_key(), serial=keys.id("serial"), now_s=_now_s()
        )
        if self.fail_mode.get("wechatpay") == "bad_signature":
            headers[wechat.HEADER_SIGNATURE] = sign_b64(
                keys.merchant_private_key, b"not the answer"
            )
        media = "application/json" if data is not None else None
        return Response(body, status_code=status, headers=headers, media_type=media)

    async def _wechat_prepay(self, request: Request) -> Response:
        verified = await self._wechat_verified(request)
        if isinstance(verified, Response):
            return verified
        data = parse_json_object(verified, "prepay")
        amount = data["amount"]
        assert isinstance(amount, dict)
        order = SimOrder(
            "wechatpay", str(data["out_trade_no"]), int(amount["total"]), str(data["notify_url"])
        )
        self.orders[order.out_trade_no] = order
        return self._wechat_answer({"prepay_id": "wx" + secrets.token_hex(16)})

    async def _wechat_query(self, out_trade_no: str, request: Request) -> Response:
        verified = await self._wechat_verified(request)
        if isinstance(verified, Response):
            return verified
        order = self.orders.get(out_trade_no)
        if order is None:
            return self._wechat_answer({"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, 404)
        keys = self.keys["wechatpay"]
        answer: dict[str, object] = {
            "appid": keys.id("appid"),
            "mchid": keys.id("mchid"),
            "out_trade_no": order.out_trade_no,
            "trade_state": order.state,
            "amount": {"total": order.amount_fen, "currency": "CNY"},
        }
        if order.state == "SUCCESS":
            answer["transaction_id"] = order.txn_id
        return self._wechat_answer(answer)

    async def _wechat_close(self, out_trade_no: str, request: Request) -> Response:
        verified = await self._wechat_verified(request)
        if isinstance(verified, Response):
            return verified
        order = self.orders.get(out_trade_no)
        if order is not None and order.state == "SUCCESS":
            return self._wechat_answer({"code": "ORDERPAID", "message": "订单已支付"}, 400)
        if order is not None:
            order.state = "CLOSED"
        return self._wechat_answer(None, 204)

    async def _wechat_refund(self, request: Request) -> Response:
        verified = await self._wechat_verified(request)
        if isinstance(verified, Response):
            return verified
        data = parse_json_object(verified, "refund")
        amount = data["amount"]
        assert isinstance(amount, dict)
        refund = SimRefund(
            "wechatpay",
            str(data["out_trade_no"]),
            str(data["out_refund_no"]),
            int(amount["refund"]),
        )
        self.refunds.setdefault(refund.out_refund_no, refund)
        return self._wechat_answer(self._wechat_refund_body(self.refunds[refund.out_refund_no]))

    async def _wechat_refund_query(self, out_refund_no: str, request: Request) -> Response:
        verified = await self._wechat_verified(request)
        if isinstance(verified, Response):
            return verified
        refund = self.refunds.get(out_refund_no)
        if refund is None:
            return self._wechat_answer(
                {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"}, 404
            )
        return self._wechat_answer(self._wechat_refund_body(refund))

    @staticmethod
    def _wechat_refund_body(refund: SimRefund) -> dict[str, object]:
        return {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "out_trade_no": refund.out_trade_no,
            "status": refund.state,
            "amount": {"refund": refund.amount_fen, "currency": "CNY"},
        }

    # --- Alipay ----------------------------------------------------------------------

    async def _alipay_gateway(self, request: Request) -> Response:
        self.calls.append(("alipay", request.url.path))
        keys = self.keys["alipay"]
        params = _form(await request.body())
        content = alipay.request_sign_content(params.items()).encode("utf-8")
        try:
            verify_b64(keys.merchant_public_key, params.get("sign", ""), content)
        except CallbackRejected:
            return self._alipay_answer(
                "error_response", {"code": "40002", "sub_code": "isv.invalid-signature"}
            )
        failed = await self._maybe_fail("alipay")
        if failed is not None:
            return failed
        method = params.get("method", "")
        biz = parse_json_object(params.get("biz_content", "{}").encode(), "biz_content")
        key = method.replace(".", "_") + "_response"
        return self._alipay_answer(key, self._alipay_result(method, biz))

    def _alipay_result(self, method: str, biz: Mapping[str, object]) -> dict[str, object]:
        order = self.orders.get(str(biz.get("out_trade_no", "")))
        missing: dict[str, object] = {
            "code": "40004",
            "msg": "Business Failed",
            "sub_code": "ACQ.TRADE_NOT_EXIST",
            "sub_msg": "交易不存在",
        }
        if order is None:
            return missing
        ok: dict[str, object] = {
            "code": "10000",
            "msg": "Success",
            "out_trade_no": order.out_trade_no,
        }
        statuses = {
            "SUCCESS": "TRADE_SUCCESS",
            "CLOSED": "TRADE_CLOSED",
            "NOTPAY": "WAIT_BUYER_PAY",
        }
        if method == "alipay.trade.query":
            return ok | {
                "trade_no": order.txn_id,
                "trade_status": statuses.get(order.state, "WAIT_BUYER_PAY"),
                "total_amount": fen_to_yuan(order.amount_fen),
            }
        if method == "alipay.trade.close":
            order.state = "CLOSED"
            return ok
        out_request_no = str(biz.get("out_request_no", ""))
        if method == "alipay.trade.refund":
            fen = wire_yuan_to_fen(str(biz["refund_amount"]))
            self.refunds.setdefault(
                out_request_no, SimRefund("alipay", order.out_trade_no, out_request_no, fen)
            )
            return ok | {
                "trade_no": order.txn_id,
                "fund_change": "Y",
                "refund_fee": fen_to_yuan(fen),
            }
        refund = self.refunds.get(out_request_no)
        if refund is None or refund.state != "SUCCESS":
            return ok
        return ok | {
            "trade_no": order.txn_id,
            "out_request_no": out_request_no,
            "refund_amount": fen_to_yuan(refund.amount_fen),
            "refund_status": "REFUND_SUCCESS",
        }

    def _alipay_answer(self, key: str, obj: Mapping[str, object]) -> Response:
        keys = self.keys["alipay"]
        text = dump_json_compact(dict(obj)).decode("utf-8")
        signer = keys.channel_signing_key()
        if self.fail_mode.get("alipay") == "bad_signature":
            signer = keys.merchant_private_key
        sign = sign_b64(signer, text.encode("utf-8"))
        body = f'{{"{key}":{text},"sign":"{sign}"}}'.encode()
        return Response(body, media_type="application/json;charset=utf-8")

    # --- Lakala ----------------------------------------------------------------------

    async def _lakala(self, request: Request) -> Response:
        path = request.url.path
        self.calls.append(("lakala", path))
        keys = self.keys["lakala"]
        body = await request.body()
        try:
            lakala.verify_request_authorization(
                request.headers.get("Authorization", ""),
                body,
                merchant_public_key=keys.merchant_public_key,
                expected_appid=keys.id("appid"),
                expected_serial_no=keys.id("serial_no"),
                now_s=_now_s(),
            )
        except CallbackRejected:
            return self._lakala_answer({"code": "BBS11112", "msg": "验签失败"}, 401)
        failed = await self._maybe_fail("lakala")
        if failed is not None:
            return failed
        req = parse_json_object(body, "request")["req_data"]
        assert isinstance(req, dict)
        ccss = "/ccss/" in path
        code = "000000" if ccss else "BBS00000"
        resp = self._lakala_result(path, req)
        if resp is None:
            return self._lakala_answer({"code": "BBS11105", "msg": "订单不存在"})
        return self._lakala_answer({"code": code, "msg": "成功", "resp_data": resp})

    def _lakala_result(self, path: str, req: Mapping[str, object]) -> dict[str, object] | None:
        if path.endswith("/preorder") or path.endswith("/order/create"):
            out_trade_no = str(req.get("out_trade_no") or req.get("out_order_no"))
            amount = int(str(req["total_amount"]))
            order = SimOrder("lakala", out_trade_no, amount, str(req["notify_url"]))
            order.method = "ccss" if path.endswith("/order/create") else "labs"
            self.orders[out_trade_no] = order
            if order.method == "ccss":
                return {
                    "counter_url": f"{self.url}/counter/{out_trade_no}",
                    "pay_order_no": order.txn_id,
                }
            return {
                "acc_resp_fields": {"code": f"weixin://wxpay/sim/{out_trade_no}"},
                "trade_no": order.txn_id,
            }
        if path.endswith("/refund"):
            refund = SimRefund(
                "lakala",
                str(req["origin_out_trade_no"]),
                str(req["out_trade_no"]),
                int(str(req["refund_amount"])),
            )
            self.refunds.setdefault(refund.out_refund_no, refund)
            return {"trade_state": "DEAL", "trade_no": refund.refund_id}
        return self._lakala_query(path, req)

    def _lakala_query(self, path: str, req: Mapping[str, object]) -> dict[str, object] | None:
        out_trade_no = str(req.get("out_trade_no") or req.get("out_order_no"))
        refund = self.refunds.get(out_trade_no)
        if refund is not None:
            return {
                "trade_state": refund.state,
                "trade_no": refund.refund_id,
                "total_amount": str(refund.amount_fen),
            }
        order = self.orders.get(out_trade_no)
        if order is None:
            return None
        if path.endswith("/order/query"):
            statuses = {"SUCCESS": 2, "CLOSED": 4, "NOTPAY": 0, "PAYERROR": 3}
            return {
                "order_status": statuses.get(order.state, 1),
                "total_amount": order.amount_fen,
                "pay_order_no": order.txn_id,
            }
        states = {"SUCCESS": "SUCCESS", "CLOSED": "CLOSE", "NOTPAY": "INIT", "PAYERROR": "FAIL"}
        return {
            "trade_state": states.get(order.state, "DEAL"),
            "trade_no": order.txn_id,
            "total_amount": str(order.amount_fen),
        }

    def _lakala_answer(self, envelope: Mapping[str, object], status: int = 200) -> Response:
        keys = self.keys["lakala"]
        body = dump_json_compact({**envelope, "resp_time": "20260101000000"})
        signer = keys.channel_signing_key()
        if self.fail_mode.get("lakala") == "bad_signature":
            signer = keys.merchant_private_key
        headers = lakala.sign_response_headers(
            body,
            appid=keys.id("appid"),
            serial_no=keys.id("serial_no"),
            private_key=signer,
            now_s=_now_s(),
        )
        return Response(body, status_code=status, headers=headers, media_type="application/json")


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handling (runs inside the test's event loop)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _wait_started(server: uvicorn.Server) -> None:
    for _ in range(500):  # uvicorn exposes a flag, not an event
        if server.started:
            return
        await asyncio.sleep(0.01)  # noqa: ASYNC110
    raise RuntimeError("channel simulator did not start")


def _form(raw: bytes) -> dict[str, str]:
    pairs = (segment.partition(b"=") for segment in raw.split(b"&") if segment)
    return {unquote_plus(k.decode()): unquote_plus(v.decode()) for k, _, v in pairs}


def _now_s() -> int:
    return int(time.time())
