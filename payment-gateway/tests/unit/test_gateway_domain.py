"""The gateway's pure parts: state machines, routing policy, channel health, query decisions,
back-off, the Alipay signed-member scanner, settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payment_gateway.adapters.channels.alipay.client import member_text
from payment_gateway.bootstrap import routing_rules
from payment_gateway.config import GatewaySettings
from payment_gateway.domain import payment as pay
from payment_gateway.domain import refund as ref
from payment_gateway.domain.health import BreakerState, ChannelHealth
from payment_gateway.domain.outcomes import ChannelOutcome, decide_after_query, next_query_delay_s
from payment_gateway.domain.payment import PaymentStatus as P
from payment_gateway.domain.routing import RoutingPolicy, RoutingRules
from payment_gateway.errors import IllegalTransition, RouteRefused

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_payment_guards() -> None:
    assert pay.sources_of(P.SUCCEEDED) == {P.PAYING, P.UNKNOWN, P.FAILED, P.CLOSED}
    assert pay.sources_of(P.PAYING) == {P.CREATED, P.UNKNOWN}
    assert pay.sources_of(P.FAILED) == {P.CREATED, P.PAYING, P.UNKNOWN}
    assert pay.sources_of(P.CREATED) == frozenset()
    with pytest.raises(IllegalTransition):
        pay.check_transition(P.SUCCEEDED, P.FAILED)
    pay.check_transition(P.CLOSED, P.SUCCEEDED)
    assert pay.callback_outcome(P.CLOSED) == "failed"
    with pytest.raises(ValueError, match="final"):
        pay.callback_outcome(P.PAYING)


def test_refund_guards() -> None:
    R = ref.RefundStatus
    assert ref.sources_of(R.SUCCEEDED) == {
        R.REQUESTED, R.PROCESSING, R.UNKNOWN, R.FAILED, R.MANUAL,
    }  # fmt: skip
    with pytest.raises(IllegalTransition):
        ref.check_transition(R.SUCCEEDED, R.FAILED)
    with pytest.raises(IllegalTransition):
        ref.check_transition(R.MANUAL, R.REQUESTED)


def test_numbers_fit_every_channel() -> None:
    for _ in range(50):
        number = pay.new_out_trade_no(NOW)
        assert len(number) == 27
        assert number.isalnum()
        assert number.startswith("P260101")
        assert len(ref.new_out_refund_no(NOW)) == 27


def rules(**changes: object) -> RoutingRules:
    every = frozenset({"wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire"})
    base: dict[str, object] = {
        "stage_entries": {
            "intent": frozenset({"wechatpay", "alipay", "lakala"}),
            "firm": every,
            "final": every - {"lakala"} | {"lakala:wechat_qr"},
        },
        "enabled_channels": every,
        "online_limit_fen_default": 5_000_000,
        "channels": routing_rules(GatewaySettings()).channels,
    }
    return RoutingRules(**(base | changes))  # type: ignore[arg-type]


def test_routing_defaults_and_methods() -> None:
    policy = RoutingPolicy(rules())
    route = policy.route(stage="intent", channel="lakala", method=None, amount_fen=1)
    assert (route.channel, route.method, route.online) == ("lakala", "app_quick_pay", True)
    assert (
        policy.route(stage="firm", channel="unionpay", method=None, amount_fen=10**9).online
        is False
    )
    assert (
        policy.route(stage="final", channel="lakala", method="wechat_qr", amount_fen=1).method
        == "wechat_qr"
    )
    with pytest.raises(RouteRefused) as refused:
        policy.route(stage="final", channel="lakala", method="web_banking", amount_fen=1)
    assert refused.value.reason == "stage_not_allowed"


@pytest.mark.parametrize(
    ("stage", "channel", "amount_fen", "reason", "suggestions"),
    [
        ("intent", "unionpay", 1, "stage_not_allowed", ("wechatpay", "alipay", "lakala")),
        (
            "firm",
            "wechatpay",
            5_000_001,
            "over_online_limit",
            ("unionpay", "allinpay", "cash", "wire"),
        ),
        ("intent", "alipay", 5_000_001, "over_online_limit", ()),
        (
            "firm",
            "cash",
            1,
            "channel_not_startable",
            ("wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire"),
        ),
        ("service", "wechatpay", 1, "stage_not_allowed", ()),
    ],
)
def test_routing_refusals(
    stage: str, channel: str, amount_fen: int, reason: str, suggestions: tuple[str, ...]
) -> None:
    with pytest.raises(RouteRefused) as refused:
        RoutingPolicy(rules()).route(
            stage=stage, channel=channel, method=None, amount_fen=amount_fen
        )
    assert refused.value.reason == reason
    assert refused.value.suggestions == suggestions
    body = refused.value.to_body()
    assert body["code"] == "route_refused"
    assert body["suggested_channels"] == ",".join(suggestions)


def test_over_limit_messages() -> None:
    policy = RoutingPolicy(rules())
    with pytest.raises(RouteRefused) as firm:
        policy.route(stage="firm", channel="wechatpay", method=None, amount_fen=6_000_000)
    assert (
        "60000.00 CNY exceeds the single-payment online limit of 50000.00 CNY" in firm.value.message
    )
    assert "POS card terminal (unionpay)" in firm.value.message
    assert "bank transfer (wire)" in firm.value.message
    with pytest.raises(RouteRefused) as intent:
        policy.route(stage="intent", channel="wechatpay", method=None, amount_fen=6_000_000)
    assert "split it into online payments of at most 50000.00 CNY" in intent.value.message


def test_disabled_and_per_channel_limits() -> None:
    every = frozenset({"wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire"})
    policy = RoutingPolicy(
        rules(
            enabled_channels=every - {"allinpay", "wechatpay"},
            online_limit_fen_by_channel={"alipay": 10},
        )
    )
    with pytest.raises(RouteRefused) as disabled:
        policy.route(stage="firm", channel="wechatpay", method=None, amount_fen=1)
    assert disabled.value.reason == "channel_disabled"
    assert policy.offline_options("firm") == ("unionpay", "cash", "wire")
    with pytest.raises(RouteRefused):
        policy.route(stage="firm", channel="alipay", method=None, amount_fen=11)


def test_rules_reject_unknown_entries() -> None:
    with pytest.raises(ValueError, match="unknown"):
        rules(stage_entries={"intent": frozenset({"paypal"})})
    with pytest.raises(ValueError, match="unknown"):
        rules(stage_entries={"intent": frozenset({"wechatpay:swipe"})})
    with pytest.raises(ValueError, match="online"):
        rules(online_limit_fen_by_channel={"unionpay": 1})


def test_circuit_breaker() -> None:
    clock = [0.0]
    health = ChannelHealth(["wechatpay"], failures_to_open=3, open_s=10, clock=lambda: clock[0])
    for _ in range(2):
        health.record_failure("wechatpay")
    assert health.allow("wechatpay")
    health.record_failure("wechatpay")
    assert health.state("wechatpay") is BreakerState.OPEN
    assert not health.allow("wechatpay")
    clock[0] = 10.5
    assert health.allow("wechatpay")  # the half-open trial
    assert not health.allow("wechatpay")  # one at a time
    health.record_failure("wechatpay")
    assert health.state("wechatpay") is BreakerState.OPEN
    clock[0] = 21.0
    assert health.allow("wechatpay")
    health.record_success("wechatpay")
    assert health.state("wechatpay") is BreakerState.CLOSED
    assert health.view("wechatpay").consecutive_failures == 0


@pytest.mark.parametrize(
    ("status", "outcome", "expired", "target", "close", "again"),
    [
        (P.PAYING, ChannelOutcome.SUCCEEDED, False, P.SUCCEEDED, False, False),
        (P.PAYING, ChannelOutcome.FAILED, False, P.FAILED, False, False),
        (P.PAYING, ChannelOutcome.CLOSED, False, P.CLOSED, False, False),
        (P.PAYING, ChannelOutcome.PENDING, False, None, False, True),
        (P.PAYING, ChannelOutcome.PENDING, True, None, True, True),
        (P.UNKNOWN, ChannelOutcome.PENDING, False, P.PAYING, False, True),
        (P.PAYING, ChannelOutcome.NOT_FOUND, False, None, False, True),
        (P.PAYING, ChannelOutcome.NOT_FOUND, True, P.CLOSED, False, False),
        (P.UNKNOWN, ChannelOutcome.NOT_FOUND, False, P.CLOSED, False, False),
        (P.PAYING, ChannelOutcome.UNKNOWN, True, None, False, True),
    ],
)
def test_query_decisions(
    status: P, outcome: ChannelOutcome, expired: bool, target: P | None, close: bool, again: bool
) -> None:
    expires = NOW - timedelta(seconds=1) if expired else NOW + timedelta(minutes=5)
    decision = decide_after_query(status, outcome, now=NOW, expires_at=expires)
    assert (decision.target, decision.close_at_channel, decision.query_again) == (
        target,
        close,
        again,
    )


def test_back_off() -> None:
    delays = [next_query_delay_s(n, min_s=15, max_s=600) for n in range(8)]
    assert delays == [15, 30, 60, 120, 240, 480, 600, 600]


@given(
    st.dictionaries(
        st.text(max_size=8),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
            max_leaves=8,
        ),
        max_size=4,
    )
)
def test_member_text_is_the_exact_source_text(obj: dict[str, object]) -> None:
    for indent in (None, 2):
        text = json.dumps(
            {"before": obj, "x_response": obj, "sign": "s"}, indent=indent, ensure_ascii=False
        )
        found = member_text(text, "x_response")
        assert found is not None
        assert json.loads(found) == obj
        assert found in text
    assert member_text('{"a":{"x_response":1}}', "x_response") is None


def test_member_text_handles_escapes() -> None:
    text = '{"k":"\\"x_response\\":","x_response":{"msg":"a\\"}b","n":[1,{"c":"}"}]},"sign":"z"}'
    assert member_text(text, "x_response") == '{"msg":"a\\"}b","n":[1,{"c":"}"}]}'


def test_settings_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHANNEL_SANDBOX_URL", raising=False)
    monkeypatch.setenv("OTD_PORT_CHANNEL_SANDBOX", "18010")
    monkeypatch.setenv("PORT", "18003")
    settings = GatewaySettings()
    assert settings.channel_base_url("wechatpay") == "http://127.0.0.1:18010"
    assert settings.notify_url("alipay") == "http://127.0.0.1:18003/callbacks/alipay"
    explicit = GatewaySettings(
        gateway_public_url="https://pay.example.com/",
        channels={"alipay": {"base_url": "https://openapi.alipay.com"}},
    )
    assert explicit.notify_url("lakala") == "https://pay.example.com/callbacks/lakala"
    assert explicit.channel_base_url("alipay") == "https://openapi.alipay.com"
    monkeypatch.delenv("OTD_PORT_CHANNEL_SANDBOX")
    assert GatewaySettings().sandbox_url() == "http://127.0.0.1:8010"
    assert GatewaySettings().online_limit_fen("wechatpay") == 5_000_000
