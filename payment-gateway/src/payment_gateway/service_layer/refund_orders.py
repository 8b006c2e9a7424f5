"""The refund order a channel client is asked to send or query (one builder for both)."""

from __future__ import annotations

from payment_gateway.adapters.channels.client_base import RefundOrder
from payment_gateway.domain.payment import Payment
from payment_gateway.domain.refund import Refund
from payment_gateway.service_layer.context import Gateway


def refund_order(gw: Gateway, payment: Payment, refund: Refund) -> RefundOrder:
    """The refund of ``payment`` as its channel's refund and refund query calls take it."""
    return RefundOrder(
        out_trade_no=payment.out_trade_no,
        out_refund_no=refund.out_refund_no,
        method=payment.method,
        payment_amount_fen=payment.amount_fen,
        refund_amount_fen=refund.amount_fen,
        reason=refund.reason,
        notify_url=gw.settings.notify_url(payment.channel),
        channel_txn_id=payment.channel_txn_id,
    )
