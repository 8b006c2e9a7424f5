"""The envelope and the discriminated union of payloads."""

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from otd_shared.events import (
    BillingDue,
    EventEnvelope,
    OrderCreated,
    PaymentCallback,
    StatementLoaded,
    decode_envelope,
    new_envelope,
)
from otd_shared.events import payloads as payload_module


def _callback() -> PaymentCallback:
    return PaymentCallback(
        order_id="o1",
        billing_id="b1",
        payment_id="p1",
        channel="wechatpay",
        method="app",
        outcome="succeeded",
        out_trade_no="OTD1",
        channel_txn_id="4200",
        amount_fen=100,
        fee_fen=1,
        completed_at=datetime.now(UTC),
    )


def test_roundtrip_keeps_type_and_fields() -> None:
    envelope = new_envelope(_callback(), producer="payment-gateway", correlation_id="c-1")
    decoded = decode_envelope(envelope.to_bytes())
    assert isinstance(decoded.payload, PaymentCallback)
    assert decoded == envelope
    assert decoded.order_id == "o1"
    assert decoded.partition_key == b"o1"


def test_payout_via_is_optional_and_closed() -> None:
    """Old events (no payout_via) still decode; a new one keeps it; an unknown way is refused."""
    old = json.loads(_callback().model_dump_json())
    del old["payout_via"]
    assert PaymentCallback.model_validate(old).payout_via is None
    paid = _callback().model_copy(update={"outcome": "refunded", "refund_id": "r1"})
    by_bank = PaymentCallback.model_validate({**paid.model_dump(), "payout_via": "bank_transfer"})
    envelope = new_envelope(by_bank, producer="payment-gateway", correlation_id="c-1")
    decoded = decode_envelope(envelope.to_bytes()).payload
    assert isinstance(decoded, PaymentCallback)
    assert decoded.payout_via == "bank_transfer"
    with pytest.raises(ValidationError):
        PaymentCallback.model_validate({**paid.model_dump(), "payout_via": "carrier_pigeon"})


def test_event_without_order_is_keyed_by_event_id() -> None:
    payload = StatementLoaded(
        statement_id="s1",
        source="alipay",
        statement_date=date(2026, 1, 2),
        lines=3,
        total_amount_fen=300,
    )
    envelope = new_envelope(payload, producer="recon-service", correlation_id="c")
    assert envelope.order_id is None
    assert envelope.partition_key == str(envelope.event_id).encode()


def test_every_payload_class_is_in_the_union_with_a_docstring() -> None:
    names = [n for n in payload_module.__all__ if isinstance(getattr(payload_module, n), type)]
    classes = [getattr(payload_module, n) for n in names]
    events = [c for c in classes if "event_type" in getattr(c, "model_fields", {})]
    assert len(events) >= 18
    for cls in events:
        doc = (cls.__doc__ or "").lower()
        assert "when" in doc or "every" in doc, cls.__name__
        assert cls in payload_module.EventPayload.__args__


def test_mismatched_event_type_is_rejected() -> None:
    envelope = new_envelope(_callback(), producer="x", correlation_id="c")
    body = json.loads(envelope.to_bytes())
    body["event_type"] = "BillingPaid"
    with pytest.raises(ValidationError, match="does not match"):
        decode_envelope(json.dumps(body).encode())


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"{}", b'{"event_type": "Nope"}', b"[1,2]", b"\xff\xfe"],
)
def test_malformed_bytes_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (ValidationError is a ValueError)
        decode_envelope(raw)


def test_money_fields_refuse_floats_and_strings() -> None:
    with pytest.raises(ValidationError):
        OrderCreated(order_id="o", customer_id="c", vehicle_model="m", price_fen=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        OrderCreated(order_id="o", customer_id="c", vehicle_model="m", price_fen="100")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        BillingDue(
            order_id="o",
            billing_id="b",
            customer_id="c",
            stage="intent",
            amount_fen=0,
            outstanding_fen=0,
            due_at=datetime.now(UTC),
        )


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValidationError):
        EventEnvelope(
            event_id=uuid.uuid4(),
            event_type="OrderCreated",
            occurred_at=datetime(2026, 1, 1),  # noqa: DTZ001
            producer="x",
            correlation_id="c",
            payload=OrderCreated(order_id="o", customer_id="c", vehicle_model="m", price_fen=1),
        )
