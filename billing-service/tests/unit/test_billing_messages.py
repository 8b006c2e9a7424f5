"""Every domain event of billing-service has a wire payload; webhooks are signed."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from billing_service.adapters.webhook_client import sign, verify_signature
from billing_service.config import BillingSettings
from billing_service.domain import events as d
from billing_service.service_layer.jobs import WebhookSender
from billing_service.service_layer.messages import WEBHOOK_EVENT_TYPES, to_payload

T = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
EVENT_CLASSES = [
    cls
    for _, cls in inspect.getmembers(d, inspect.isclass)
    if issubclass(cls, d.BillingEvent) and cls is not d.BillingEvent
]
SAMPLE_VALUES: dict[str, object] = {
    "order_id": "o-1",
    "occurred_at": T,
    "fund_order_id": "f-1",
    "customer_id": "c-1",
    "price_fen": 30_000_000,
    "billing_ids": ("b-1",),
    "billing_id": "b-1",
    "stage": "final",
    "amount_fen": 1_000,
    "outstanding_fen": 1_000,
    "customer_payable_fen": 600,
    "due_at": T,
    "paid_fen": 1_200,
    "overpaid_fen": 200,
    "payment_id": "p-1",
    "refund_request_id": "b-1-R1",
    "channel": "alipay",
    "reason": "why",
    "previous_amount_fen": 900,
    "self_pay_fen": 600,
    "previous_self_pay_fen": 500,
    "retained_fen": 0,
    "refund_fen": 1_200,
    "schedule": "standard",
    "step": 1,
    "remind_at": T,
    "installment_no": 3,
    "payable_from": T,
    "overdue_at": T,
}


@pytest.mark.parametrize("cls", EVENT_CLASSES, ids=lambda c: c.__name__)
def test_every_domain_event_maps_to_its_payload_of_the_same_name(
    cls: type[d.BillingEvent],
) -> None:
    fields = {f.name: SAMPLE_VALUES[f.name] for f in dataclasses.fields(cls)}

    payload = to_payload(cls(**fields))  # type: ignore[arg-type]

    assert payload.event_type == cls.__name__
    assert payload.order_id == "o-1"


def test_the_app_backend_hears_about_due_paid_reminded_changed_and_overdue() -> None:
    expected = {
        "BillingDue",
        "BillingPaid",
        "BillingReminderDue",
        "BillingAmountChanged",
        "InstallmentOverdue",
    }
    assert expected == WEBHOOK_EVENT_TYPES


def test_signature_verifies_only_the_same_body_secret_and_recent_time() -> None:
    header = sign(b"secret", b'{"a":1}', 1_700_000_000)

    assert verify_signature(b"secret", b'{"a":1}', header, now_s=1_700_000_010)
    assert not verify_signature(b"secret", b'{"a":2}', header, now_s=1_700_000_010)
    assert not verify_signature(b"other", b'{"a":1}', header, now_s=1_700_000_010)
    assert not verify_signature(b"secret", b'{"a":1}', header, now_s=1_700_001_000)
    assert not verify_signature(b"secret", b'{"a":1}', "garbage", now_s=1_700_000_010)


def test_back_off_doubles_up_to_the_cap_then_gives_up() -> None:
    settings = BillingSettings(
        webhook_retry_delay_s_min=1.0, webhook_retry_delay_s_max=5.0, webhook_max_attempts=5
    )
    sender = WebhookSender(None, settings)  # type: ignore[arg-type]  # no I/O in retry_at

    delays = [sender.retry_at(n, now=T) for n in range(1, 6)]

    assert delays[:4] == [T + timedelta(seconds=s) for s in (1, 2, 4, 5)]
    assert delays[4] is None


def test_a_webhook_url_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="BILLING_WEBHOOK_SECRET"):
        BillingSettings(
            billing_webhook_url="https://app.example/hooks", billing_webhook_secret=None
        )
    ok = BillingSettings(
        billing_webhook_url="https://app.example/hooks", billing_webhook_secret=SecretStr("s")
    )
    assert ok.reminder_schedule().name == "standard"
