"""POS with an order QR: stores and terminals, issuing the order QR, the terminal's fetch that
reserves a payment, refused fetches and parked notifications.

The reservation is an ordinary payment (``paying``, method ``pos_card`` or ``pos_qr``) whose
``out_trade_no`` the acquirer echoes (UnionPay ``orderId``, Allinpay ``cusorderid``): the
channel's notification settles it through the common callback path. Several swipes may pay
one billing: each swipe is its own order QR and payment.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from otd_shared.channels import ChannelCode
from otd_shared.errors import Conflict, DomainError, InvalidInput, NotFound
from otd_shared.money import fen_to_yuan
from payment_gateway.adapters.payable_billings import PayableBilling
from payment_gateway.adapters.pos_repo import OrderQrToken, ParkedCallback, Terminal
from payment_gateway.domain import order_qr
from payment_gateway.domain.payment import Payment, PaymentStatus, new_out_trade_no
from payment_gateway.domain.routing import POS_CHANNELS
from payment_gateway.errors import BillingNotPayable, UnknownBilling
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
SHORT_CODE_ATTEMPTS_MAX = 5
KEY_BYTES = 32
POS_METHODS = ("pos_card", "pos_qr")
PAYMENT_CODE_METHOD = "bar_code"  # the terminal scanned the customer's payment code (付款码)


class PosRefused(DomainError):
    """A terminal fetch refused; ``code`` says why (recorded in pos_fetch_refusals)."""

    def __init__(self, code: str, message: str, http_status: int) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status


@dataclass(frozen=True)
class IssueOrderQr:
    billing_id: uuid.UUID
    amount_fen: int
    store_id: str
    actor: str


@dataclass(frozen=True)
class IssuedQr:
    token: str
    qr_content: str
    short_code: str
    expires_at: datetime
    stored: OrderQrToken


@dataclass(frozen=True)
class Charge:
    """A terminal's fetch: the token (or its short code), the terminal and its acquirer."""

    token: str | None
    short_code: str | None
    terminal_id: str
    channel: ChannelCode
    method: str
    actor: str
    expires_in_s: int | None = None  # None: PAYMENT_EXPIRY_S


@functools.lru_cache(maxsize=4)
def _key_file(path: str) -> bytes:
    file = Path(path)
    if not file.exists():
        file.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another replica made it first
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(KEY_BYTES))
    return bytes.fromhex(file.read_text().strip())


def signing_key(gw: Gateway) -> bytes:
    """The order-QR HMAC key: the setting, else ``<keys_dir>/pos/order_qr.key`` (made once)."""
    configured = gw.settings.order_qr_secret.get_secret_value()
    if configured:
        return configured.encode()
    return _key_file(str(gw.settings.keys_dir / "pos" / "order_qr.key"))


# --- stores and terminals ----------------------------------------------------------------


async def register_store(
    gw: Gateway, store_id: str, name: str, terminals: dict[str, str]
) -> list[Terminal]:
    """Register a store and its terminals (terminal id → acquirer channel)."""
    for terminal_id, channel in terminals.items():
        if channel not in POS_CHANNELS:
            raise InvalidInput(f"terminal {terminal_id}: {channel} is not a POS acquirer")
    now = gw.now()
    async with gw.uow() as uow:
        await uow.pos.upsert_store(store_id, name, now=now)
        for terminal_id, channel in terminals.items():
            terminal = Terminal(
                terminal_id=terminal_id, store_id=store_id, channel=channel, active=True
            )
            await uow.pos.upsert_terminal(terminal, now=now)
        found = await uow.pos.terminals(store_id)
        await uow.commit()
    return found


async def load_registry_file(gw: Gateway, path: Path) -> int:
    """Register the stores of a registry file (the launcher's dev store S001); returns how
    many. ``{"stores": [{"store_id", "name", "terminals": {"<terminal id>": "<channel>"}}]}``"""
    data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    stores = data.get("stores", [])
    for store in stores:
        await register_store(gw, store["store_id"], store["name"], dict(store["terminals"]))
    return len(stores)


async def terminals(gw: Gateway, store_id: str | None) -> list[Terminal]:
    """Registered terminals."""
    async with gw.uow() as uow:
        return await uow.pos.terminals(store_id)


# --- order QR ----------------------------------------------------------------------------


async def issue_order_qr(gw: Gateway, cmd: IssueOrderQr) -> IssuedQr:
    """A signed single-use order QR for (part of) a due billing at a store."""
    now = gw.now()
    expires_at = (now + timedelta(seconds=gw.settings.order_qr_ttl_s)).replace(microsecond=0)
    async with gw.uow() as uow:
        if not await uow.pos.store_exists(cmd.store_id):
            raise InvalidInput(f"store {cmd.store_id} is not registered", field="store_id")
        billing = await _due_billing(gw, uow, cmd.billing_id, cmd.amount_fen)
        claims = order_qr.TokenClaims(
            uuid.uuid4(),
            billing.billing_id,
            cmd.amount_fen,
            cmd.store_id,
            int(expires_at.timestamp()),
        )
        for _ in range(SHORT_CODE_ATTEMPTS_MAX):
            stored = OrderQrToken(
                token_id=claims.token_id,
                short_code=order_qr.new_short_code(),
                billing_id=billing.billing_id,
                order_id=billing.order_id,
                store_id=cmd.store_id,
                amount_fen=cmd.amount_fen,
                status="issued",
                issued_by=cmd.actor,
                issued_at=now,
                expires_at=expires_at,
            )
            if await uow.pos.add_token(stored):
                break
        else:
            raise Conflict("no free short code; retry")
        await uow.commit()
    token = order_qr.sign(signing_key(gw), claims)
    return IssuedQr(
        token, order_qr.QR_CONTENT_PREFIX + token, stored.short_code, expires_at, stored
    )


async def _due_billing(
    gw: Gateway, uow: GatewayUnitOfWork, billing_id: uuid.UUID, amount_fen: int
) -> PayableBilling:
    found = await uow.billings.get_with_time(billing_id, for_update=True)
    if found is None:
        raise UnknownBilling(f"billing {billing_id} is not payable (unknown or not due)")
    billing, updated_at = found
    if billing.status != "due":
        raise BillingNotPayable(f"billing {billing_id} is {billing.status}")
    left_fen = billing.outstanding_fen - await uow.payments.succeeded_fen_since(
        billing_id, updated_at
    )
    if amount_fen > left_fen:
        raise InvalidInput(
            f"{fen_to_yuan(amount_fen)} CNY exceeds what is left to pay "
            f"({fen_to_yuan(max(left_fen, 0))} CNY)",
            field="amount_fen",
        )
    return billing


# --- terminal fetch ----------------------------------------------------------------------


async def charge(gw: Gateway, cmd: Charge) -> tuple[Payment, bool]:
    """Reserve the payment a terminal is about to take (``paying``); the same terminal
    fetching its token again gets the same reservation (False: not new)."""
    try:
        return await _charge(gw, cmd)
    except PosRefused as refused:
        gw.metrics.pos_fetches.labels(cmd.channel, refused.code).inc()
        async with gw.uow() as uow:
            await uow.pos.record_refusal(
                token_id=None,
                terminal_id=cmd.terminal_id,
                channel=cmd.channel,
                code=refused.code,
                detail=str(refused),
                now=gw.now(),
            )
            await uow.commit()
        log.info(
            "terminal fetch refused", extra={"terminal_id": cmd.terminal_id, "code": refused.code}
        )
        raise


async def _charge(gw: Gateway, cmd: Charge) -> tuple[Payment, bool]:
    now = gw.now()
    async with gw.uow() as uow:
        terminal = await uow.pos.terminal(cmd.terminal_id)
        if terminal is None or not terminal.active:
            raise PosRefused(
                "unknown_terminal", f"terminal {cmd.terminal_id} is not registered", 403
            )
        # A payment code is charged by us at its own channel, whatever the terminal's acquirer.
        if terminal.channel != cmd.channel and cmd.method != PAYMENT_CODE_METHOD:
            raise PosRefused(
                "wrong_channel", f"terminal {cmd.terminal_id} is a {terminal.channel} terminal", 422
            )
        token = await _token(gw, uow, cmd)
        if token.status == "used":
            return await _same_reservation(uow, token, cmd)
        if token.expires_at <= now:
            raise PosRefused("token_expired", "the order QR has expired; issue a new one", 409)
        if token.store_id != terminal.store_id:
            raise PosRefused("wrong_store", f"the order QR belongs to store {token.store_id}", 403)
        payment = await _reserve(gw, uow, token, cmd, now=now)
        await uow.commit()
    gw.metrics.pos_fetches.labels(cmd.channel, "reserved").inc()
    return payment, True


async def _token(gw: Gateway, uow: GatewayUnitOfWork, cmd: Charge) -> OrderQrToken:
    if cmd.token:
        try:
            token_id, expires_at_s, signature = order_qr.parse(cmd.token)
        except order_qr.BadToken as exc:
            raise PosRefused("bad_token", str(exc), 422) from None
        found = await uow.pos.token(token_id=token_id, for_update=True)
        if found is None:
            raise PosRefused("unknown_token", "no order QR has this token", 404)
        claims = order_qr.TokenClaims(
            found.token_id, found.billing_id, found.amount_fen, found.store_id, expires_at_s
        )
        try:
            order_qr.verify(signing_key(gw), signature, claims)
        except order_qr.BadToken as exc:
            raise PosRefused("bad_token", str(exc), 422) from None
        if expires_at_s <= int(gw.now().timestamp()):
            raise PosRefused("token_expired", "the order QR has expired; issue a new one", 409)
        return found  # the stored expiry (which may be shortened to revoke) is checked next
    found = await uow.pos.token(short_code=cmd.short_code, for_update=True)
    if found is None:
        raise PosRefused("unknown_token", "no order QR has this short code", 404)
    return found


async def _same_reservation(
    uow: GatewayUnitOfWork, token: OrderQrToken, cmd: Charge
) -> tuple[Payment, bool]:
    if token.terminal_id != cmd.terminal_id or token.payment_id is None:
        raise PosRefused("token_used", "the order QR was already used", 409)
    payment = await uow.payments.get(token.payment_id)
    assert payment is not None, "a used token names its payment"
    if payment.status is not PaymentStatus.PAYING:
        raise PosRefused(
            "token_used", f"the order QR was already used (payment {payment.status})", 409
        )
    return payment, False


async def _reserve(
    gw: Gateway, uow: GatewayUnitOfWork, token: OrderQrToken, cmd: Charge, *, now: datetime
) -> Payment:
    if cmd.method not in (*POS_METHODS, PAYMENT_CODE_METHOD):
        raise PosRefused("unknown_method", f"method must be one of {POS_METHODS}", 422)
    try:
        billing = await _due_billing(gw, uow, token.billing_id, token.amount_fen)
        gw.routing.route_recorded(stage=billing.stage, channel=cmd.channel)
    except DomainError as exc:
        raise PosRefused("billing_not_payable", str(exc), 409) from None
    payment = Payment(
        payment_id=uuid.uuid4(),
        out_trade_no=new_out_trade_no(now),
        billing_id=billing.billing_id,
        order_id=billing.order_id,
        stage=billing.stage,
        channel=cmd.channel,
        method=cmd.method,
        amount_fen=token.amount_fen,
        status=PaymentStatus.PAYING,
        created_at=now,
        expires_at=now + timedelta(seconds=cmd.expires_in_s or gw.settings.payment_expiry_s),
        # queried like an online payment when its notification does not arrive (scheduler.py)
        next_query_at=now + timedelta(seconds=gw.settings.active_query_delay_s),
        pay_params={
            "terminal_id": cmd.terminal_id,
            "store_id": token.store_id,
            "token_id": str(token.token_id),
        },
        requested_by=cmd.actor,
    )
    await uow.payments.add(payment, now=now)
    if not await uow.pos.use_token(
        token.token_id, terminal_id=cmd.terminal_id, payment_id=payment.payment_id, now=now
    ):
        raise PosRefused("token_used", "the order QR was used at the same moment", 409)
    return payment


# --- refusals and parked notifications --------------------------------------------------


async def refusals(gw: Gateway, limit: int) -> list[dict[str, object]]:
    """The latest refused terminal fetches."""
    async with gw.uow() as uow:
        return await uow.pos.refusals(limit)


async def parked(
    gw: Gateway, *, status: str | None, limit: int, offset: int
) -> list[ParkedCallback]:
    """Parked POS notifications."""
    async with gw.uow() as uow:
        return await uow.pos.parked(status=status, limit=limit, offset=offset)


async def resolve_parked(
    gw: Gateway, parked_id: uuid.UUID, resolution: str, actor: str
) -> ParkedCallback:
    """Finance resolves a parked notification (says what was done: refunded at the acquirer,
    matched by hand through a cash/wire claim …)."""
    async with gw.uow() as uow:
        resolved = await uow.pos.resolve_parked(
            parked_id, resolution=resolution, actor=actor, now=datetime.now(UTC)
        )
        if resolved is None:
            raise NotFound(f"no open parked notification {parked_id}")
        await uow.commit()
    return resolved
