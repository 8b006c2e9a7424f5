"""HTTP request and response bodies (not ORM rows, not domain objects).

Money is integer fen (strict: ``1.5`` or ``"100"`` is a 422 naming the field). The amount
rules that involve configuration (price above the deposits, loan within the final
payment) are the domain's and also answer 422 with the field named.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from order_service.domain import HistoryEntry, ServiceKind, ServiceOrder, VehicleOrder
from order_service.domain.charging_pile import ChargingPileStatus
from order_service.domain.lease import LEASE_MONTHS_MAX, LEASE_MONTHS_MIN, LeaseTerms

MAX_PRICE_FEN = 100_000_000_00  # 100 million CNY
MAX_OPTIONS = 50
Text = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(min_length=1, max_length=64)]
PositiveFen = Annotated[int, Field(strict=True, gt=0, le=MAX_PRICE_FEN)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateOrderBody(_Body):
    """Body of ``POST /v1/orders``; amounts in integer fen."""

    customer_id: str = Field(min_length=1, max_length=64)
    vehicle_model: str = Field(min_length=1, max_length=128)
    price_fen: PositiveFen
    loan_fen: int = Field(default=0, strict=True, ge=0, le=MAX_PRICE_FEN)
    charging_pile: StrictBool = False
    options: list[Code] = Field(default_factory=list, max_length=MAX_OPTIONS)


class ConfigurationBody(_Body):
    """A new configuration and its price (before the lock only)."""

    vehicle_model: str = Field(min_length=1, max_length=128)
    options: list[Code] = Field(default_factory=list, max_length=MAX_OPTIONS)
    price_fen: PositiveFen


class ReasonBody(_Body):
    """Why (shown to the customer and kept in the history)."""

    reason: Text


class BuiltBody(_Body):
    """The factory's report that the car is built."""

    vin: str = Field(min_length=1, max_length=32)


class ArrivedBody(_Body):
    """The logistics report that the car reached a delivery centre."""

    delivery_centre: Code


class LoanSubmitBody(_Body):
    """Which bank the loan intent goes to."""

    bank_code: Code


class LoanApproveBody(_Body):
    """The bank's approval with its principal (at most the requested amount)."""

    principal_fen: PositiveFen


class LoanDisburseBody(_Body):
    """The bank's disbursement notice (the amount equals the approved principal)."""

    amount_fen: PositiveFen
    bank_reference: Code


class ServiceOrderBody(_Body):
    """A post-delivery service (window film, maintenance, leasing) for a delivered car."""

    parent_order_id: str = Field(min_length=1, max_length=64)
    kind: ServiceKind
    description: Text
    price_fen: PositiveFen
    lease: LeaseTermsBody | None = Field(
        default=None, description="Required for kind=leasing (the price is what is financed)."
    )


class LeaseTermsBody(_Body):
    """A lease schedule: monthly installments from ``first_due_date`` (Asia/Shanghai).

    ``monthly_fen`` defaults to the price divided by the months (rounded down); the last
    installment takes the remainder, so the schedule sums exactly to the price.
    """

    months: int = Field(strict=True, ge=LEASE_MONTHS_MIN, le=LEASE_MONTHS_MAX)
    first_due_date: date
    monthly_fen: PositiveFen | None = None

    def terms(self) -> LeaseTerms:
        """The domain's view of the requested terms."""
        return LeaseTerms(self.months, self.first_due_date, self.monthly_fen)


class SubOrderOut(BaseModel):
    """A sub-order; the detail fields are filled for the kinds that have them."""

    kind: str
    id: str
    status: str
    vin: str | None = None
    delivery_centre: str | None = None
    bank_code: str | None = None
    requested_fen: int | None = None
    principal_fen: int | None = None
    bank_reference: str | None = None


class OrderOut(BaseModel):
    """A vehicle order with its four sub-orders."""

    order_id: str
    status: str
    customer_id: str
    vehicle_model: str
    options: list[str]
    price_fen: int
    loan_fen: int = Field(description="The loan share expected now (0 once rejected).")
    charging_pile: bool = Field(description="A home charger is still wanted or installed.")
    firm_billing_paid: bool
    created_at: datetime
    sub_orders: list[SubOrderOut]

    @classmethod
    def of(cls, order: VehicleOrder) -> OrderOut:
        """Map a domain order to its response."""
        production, loan = order.production, order.loan
        details: dict[str, SubOrderOut] = {
            "production": SubOrderOut(
                kind="production",
                id=production.id,
                status=production.status,
                vin=production.vin,
                delivery_centre=production.delivery_centre,
            ),
            "loan": SubOrderOut(
                kind="loan",
                id=loan.id,
                status=loan.status,
                bank_code=loan.bank_code,
                requested_fen=loan.requested_fen,
                principal_fen=loan.principal_fen,
                bank_reference=loan.bank_reference,
            ),
        }
        return cls(
            order_id=order.id,
            status=order.status,
            customer_id=order.customer_id,
            vehicle_model=order.configuration.vehicle_model,
            options=list(order.configuration.options),
            price_fen=order.price_fen,
            loan_fen=order.loan_share_fen,
            charging_pile=order.charging_pile.status is not ChargingPileStatus.NOT_NEEDED,
            firm_billing_paid=order.firm_billing_paid,
            created_at=order.created_at,
            sub_orders=[
                details.get(ref.kind) or SubOrderOut(kind=ref.kind, id=ref.id, status=ref.status)
                for ref in order.sub_orders()
            ],
        )


class ServiceOrderOut(BaseModel):
    """A post-delivery service order (its single billing lives in billing-service)."""

    order_id: str
    parent_order_id: str
    customer_id: str
    kind: str
    description: str
    price_fen: int
    status: str
    created_at: datetime

    @classmethod
    def of(cls, order: ServiceOrder) -> ServiceOrderOut:
        """Map a domain service order to its response."""
        return cls(
            order_id=order.id,
            parent_order_id=order.parent_order_id,
            customer_id=order.customer_id,
            kind=order.kind,
            description=order.description,
            price_fen=order.price_fen,
            status=order.status,
            created_at=order.created_at,
        )


class HistoryEntryOut(BaseModel):
    """One audited change: which entity, from/to which state, who, when and why."""

    entity: str
    entity_id: str
    from_status: str
    to_status: str
    actor: str
    at: datetime
    reason: str


class HistoryOut(BaseModel):
    """The history of an order and its sub-orders, oldest first."""

    order_id: str
    entries: list[HistoryEntryOut]

    @classmethod
    def of(cls, order_id: str, entries: list[HistoryEntry]) -> HistoryOut:
        """Map domain history entries to the response."""
        return cls(
            order_id=order_id,
            entries=[
                HistoryEntryOut(
                    entity=e.entity,
                    entity_id=e.entity_id,
                    from_status=e.from_state,
                    to_status=e.to_state,
                    actor=e.actor,
                    at=e.at,
                    reason=e.reason,
                )
                for e in entries
            ],
        )
