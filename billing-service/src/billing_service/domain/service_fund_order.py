"""The fund order of a post-delivery service order (window film, maintenance, leasing).

One ``service`` billing for the whole price, due when the service order is created. On
cancellation everything paid is refunded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from billing_service.domain.billing import Billing, BillingStage
from billing_service.domain.events import FundOrderOpened
from billing_service.domain.fund_base import FundOrderBase
from otd_shared.checks import require_fen, require_text, require_utc


@dataclass(kw_only=True)
class ServiceFundOrder(FundOrderBase):
    """Money of one service order; ``order_id`` is the service order's own id."""

    parent_order_id: str
    service: Billing

    @property
    def billings(self) -> tuple[Billing, ...]:
        return (self.service,)

    @classmethod
    def open(
        cls,
        *,
        fund_order_id: str,
        order_id: str,
        parent_order_id: str,
        customer_id: str,
        price_fen: int,
        new_id: Callable[[], str],
        at: datetime,
    ) -> ServiceFundOrder:
        """Open the single billing of a service order; it falls due at ``at``."""
        order = cls(
            id=require_text(fund_order_id, "fund_order_id"),
            order_id=require_text(order_id, "order_id"),
            parent_order_id=require_text(parent_order_id, "parent_order_id"),
            customer_id=require_text(customer_id, "customer_id"),
            price_fen=require_fen(price_fen, "price_fen"),
            opened_at=require_utc(at),
            service=Billing(
                id=require_text(new_id(), "billing_id"),
                order_id=order_id,
                customer_id=customer_id,
                stage=BillingStage.SERVICE,
                amount_fen=price_fen,
            ),
        )
        opened = FundOrderOpened(
            order_id=order_id,
            occurred_at=at,
            fund_order_id=order.id,
            customer_id=customer_id,
            price_fen=price_fen,
            billing_ids=(order.service.id,),
        )
        order._emit([opened, *order.service.fall_due(at=at)])
        order.check_invariants()
        return order
