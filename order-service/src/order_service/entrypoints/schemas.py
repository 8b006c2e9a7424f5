"""HTTP request and response bodies (not ORM rows)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from order_service.adapters.repository import OrderRow

MAX_PRICE_FEN = 100_000_000_00  # 100 million CNY


class CreateOrderBody(BaseModel):
    """Body of ``POST /v1/orders``; amounts in integer fen."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=64)
    vehicle_model: str = Field(min_length=1, max_length=128)
    price_fen: int = Field(strict=True, gt=0, le=MAX_PRICE_FEN)
    loan_fen: int = Field(default=0, strict=True, ge=0, le=MAX_PRICE_FEN)
    charging_pile: bool = False

    @model_validator(mode="after")
    def _loan_below_price(self) -> Self:
        if self.loan_fen >= self.price_fen:
            raise ValueError("loan_fen must be less than price_fen")
        return self


class SubOrderOut(BaseModel):
    """A sub-order in responses."""

    kind: str
    id: uuid.UUID
    status: str


class OrderOut(BaseModel):
    """A vehicle order in responses."""

    order_id: uuid.UUID
    status: str
    customer_id: str
    vehicle_model: str
    price_fen: int
    loan_fen: int
    charging_pile: bool
    created_at: datetime
    sub_orders: list[SubOrderOut]

    @classmethod
    def from_row(cls, row: OrderRow) -> OrderOut:
        """Map a stored order to its response."""
        return cls(
            order_id=row.order_id,
            status=row.status,
            customer_id=row.customer_id,
            vehicle_model=row.vehicle_model,
            price_fen=row.price_fen,
            loan_fen=row.loan_fen,
            charging_pile=row.charging_pile,
            created_at=row.created_at,
            sub_orders=[
                SubOrderOut(kind=s.kind, id=s.sub_order_id, status=s.status) for s in row.sub_orders
            ],
        )
