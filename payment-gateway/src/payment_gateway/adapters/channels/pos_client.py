"""POS channels (UnionPay, Allinpay terminals) as started from the cashier: an order QR.

The sales app shows the order QR; the terminal scans it, fetches the payment from us, takes the
card and the channel notifies ``POST /callbacks/<channel>``. Orders are not closed at the
channel; each acquirer's client (``unionpay/client.py``, ``allinpay/client.py``) adds its
transaction query (a reservation whose notification does not arrive is queried like an
online payment) and its refund call.
"""

from __future__ import annotations

from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentQueryResult,
    RefundAnswer,
    RefundOrder,
    StartPayment,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.errors import OperationNotOffered

ORDER_QR_SCHEME: Final = "OTDPAY"


class PosOrderQrClient:
    """The order-QR 'client' of a POS channel."""

    def __init__(self, keys: ChannelKeySet, http: ChannelHttp, options: ClientOptions) -> None:
        del http, options  # nothing is called
        self._channel = keys.channel

    @property
    def channel(self) -> ChannelCode:
        return self._channel

    async def start_payment(self, order: StartPayment) -> dict[str, str]:
        return {"order_qr": f"{ORDER_QR_SCHEME}:{self._channel}:{order.out_trade_no}"}

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        raise OperationNotOffered("POS orders are settled by notification and reconciliation")

    async def close_payment(self, out_trade_no: str, method: str) -> None:
        raise OperationNotOffered("POS orders are not closed at the channel")

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        raise OperationNotOffered("POS payments are refunded at the terminal")

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        raise OperationNotOffered("POS refunds are not queried")
