"""Every domain event of order-service has a wire payload, and the mapping keeps its facts."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import pytest

from order_service.domain import events as d
from order_service.service_layer.messages import to_payload
from otd_shared.events import new_envelope

T = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
EVENT_CLASSES = [
    cls
    for _, cls in inspect.getmembers(d, inspect.isclass)
    if issubclass(cls, d.OrderEvent) and cls is not d.OrderEvent
]
SAMPLE_VALUES: dict[str, object] = {
    "order_id": "o-1",
    "occurred_at": T,
    "customer_id": "c-1",
    "order_kind": "vehicle",
    "vehicle_model": "OTD-S",
    "options": ("awd",),
    "price_fen": 30_000_000,
    "previous_price_fen": 29_000_000,
    "loan_fen": 1_000_000,
    "charging_pile": True,
    "reason": "why",
    "cancelled_by": "app-backend:1234",
    "previous_status": "created",
    "production_order_id": "p-1",
    "vin": "LSVAU2180N2183294",
    "delivery_centre": "SH",
    "charging_pile_order_id": "cp-1",
    "loan_order_id": "l-1",
    "bank_code": "ICBC",
    "requested_fen": 1_000_000,
    "principal_fen": 1_000_000,
    "amount_fen": 1_000_000,
    "bank_reference": "B-1",
    "parent_order_id": "o-0",
    "service_kind": "window_film",
}


def _sample(cls: type[d.OrderEvent]) -> d.OrderEvent:
    fields = {
        f.name: SAMPLE_VALUES[f.name] for f in dataclasses.fields(cls) if f.name in SAMPLE_VALUES
    }
    return cls(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_every_domain_event_maps_to_its_payload_of_the_same_name(cls: type[d.OrderEvent]) -> None:
    event = _sample(cls)

    payload = to_payload(event)

    assert payload.event_type == cls.__name__
    assert payload.order_id == "o-1"
    envelope = new_envelope(payload, producer="order-service", correlation_id="c")
    assert envelope.order_id == "o-1"


def test_created_carries_the_fund_order_id_and_options() -> None:
    event = d.OrderCreated(
        order_id="o-1", occurred_at=T, customer_id="c", order_kind="vehicle",
        vehicle_model="OTD-S", options=("a", "b"), price_fen=1_000, loan_fen=0,
        charging_pile=False, fund_order_id="f-1",
    )  # fmt: skip

    payload = to_payload(event).model_dump()

    assert (payload["fund_order_id"], payload["options"]) == ("f-1", ["a", "b"])


def test_an_unknown_event_class_is_a_bug() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Unmapped(d.OrderEvent):
        pass

    with pytest.raises(TypeError, match="Unmapped"):
        to_payload(Unmapped(order_id="o", occurred_at=T))
