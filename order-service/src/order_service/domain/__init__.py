"""The order-service domain: vehicle orders, their sub-orders and post-delivery service orders.

Plain Python only (no FastAPI, SQLAlchemy or Kafka). Entry points for the service layer:
``VehicleOrder.create`` and ``ServiceOrder.create``; every other change is a method on those
aggregates that returns the events it recorded (and keeps them until ``pull_events``).
"""

from order_service.domain.charging_pile import ChargingPileOrder, ChargingPileStatus
from order_service.domain.configuration import (
    DEFAULT_AMOUNT_RULES,
    OrderAmountRules,
    VehicleConfiguration,
)
from order_service.domain.lifecycle import HistoryEntry
from order_service.domain.loan import LoanOrder, LoanStatus
from order_service.domain.production import ProductionOrder, ProductionStatus
from order_service.domain.service_order import ServiceKind, ServiceOrder, ServiceOrderStatus
from order_service.domain.vehicle_order import VehicleOrder, VehicleOrderStatus

__all__ = [
    "DEFAULT_AMOUNT_RULES",
    "ChargingPileOrder",
    "ChargingPileStatus",
    "HistoryEntry",
    "LoanOrder",
    "LoanStatus",
    "OrderAmountRules",
    "ProductionOrder",
    "ProductionStatus",
    "ServiceKind",
    "ServiceOrder",
    "ServiceOrderStatus",
    "VehicleConfiguration",
    "VehicleOrder",
    "VehicleOrderStatus",
]
