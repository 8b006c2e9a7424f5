"""HTTP response bodies of billing-service."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel

from billing_service.adapters.repository import FundOrderRow


class BillingOut(BaseModel):
    """One billing; money in fen."""

    billing_id: uuid.UUID
    stage: str
    amount_fen: int
    paid_fen: int
    status: str
    due_at: datetime | None


class FundOrderOut(BaseModel):
    """The fund order with its billings."""

    order_id: uuid.UUID
    fund_order_id: uuid.UUID
    customer_id: str
    price_fen: int
    billings: list[BillingOut]

    @classmethod
    def from_row(cls, row: FundOrderRow) -> FundOrderOut:
        """Map a stored fund order to its response."""
        return cls(
            order_id=row.order_id,
            fund_order_id=row.fund_order_id,
            customer_id=row.customer_id,
            price_fen=row.price_fen,
            billings=[
                BillingOut(
                    billing_id=b.billing_id,
                    stage=b.stage,
                    amount_fen=b.amount_fen,
                    paid_fen=b.paid_fen,
                    status=b.status,
                    due_at=b.due_at,
                )
                for b in row.billings
            ],
        )
