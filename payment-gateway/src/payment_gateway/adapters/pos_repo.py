"""SQL of POS: stores, terminals, order-QR tokens, refused fetches and parked callbacks."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.offline_tables import (
    order_qr_tokens,
    parked_callbacks,
    pos_fetch_refusals,
    pos_stores,
    pos_terminals,
)

LIST_LIMIT_MAX = 200


@dataclass(frozen=True, kw_only=True)
class Terminal:
    """A registered POS terminal of a store."""

    terminal_id: str
    store_id: str
    channel: str
    active: bool


@dataclass(frozen=True, kw_only=True)
class OrderQrToken:
    """An order QR as stored (the signature is recomputed, never stored)."""

    token_id: uuid.UUID
    short_code: str
    billing_id: uuid.UUID
    order_id: uuid.UUID
    store_id: str
    amount_fen: int
    status: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    terminal_id: str | None = None
    payment_id: uuid.UUID | None = None


@dataclass(frozen=True, kw_only=True)
class ParkedCallback:
    """A verified POS notification that names no open reservation of ours."""

    parked_id: uuid.UUID
    channel: str
    out_trade_no: str
    channel_txn_id: str | None
    amount_fen: int | None
    reason: str
    voucher: Mapping[str, str]
    status: str
    received_at: datetime
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None


def _fields(cls: Any, row: Any) -> dict[str, Any]:
    return {f: row[f] for f in cls.__dataclass_fields__}


class PosRepository:
    """Stores, terminals, tokens and parked callbacks inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert_store(self, store_id: str, name: str, *, now: datetime) -> None:
        """Register (or rename) a store."""
        statement = pg_insert(pos_stores).values(store_id=store_id, name=name, created_at=now)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[pos_stores.c.store_id], set_={"name": statement.excluded.name}
            )
        )

    async def upsert_terminal(self, terminal: Terminal, *, now: datetime) -> None:
        """Register (or move, switch) a terminal."""
        values = {**_fields(Terminal, terminal.__dict__), "created_at": now}
        statement = pg_insert(pos_terminals).values(values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[pos_terminals.c.terminal_id],
                set_={k: statement.excluded[k] for k in ("store_id", "channel", "active")},
            )
        )

    async def store_exists(self, store_id: str) -> bool:
        """Is the store registered?"""
        query = sa.select(pos_stores.c.store_id).where(pos_stores.c.store_id == store_id)
        return (await self._session.scalar(query)) is not None

    async def terminal(self, terminal_id: str) -> Terminal | None:
        """A registered terminal."""
        query = sa.select(pos_terminals).where(pos_terminals.c.terminal_id == terminal_id)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else Terminal(**_fields(Terminal, row))

    async def terminals(self, store_id: str | None = None) -> list[Terminal]:
        """Registered terminals, by id."""
        query = sa.select(pos_terminals).order_by(pos_terminals.c.terminal_id)
        if store_id:
            query = query.where(pos_terminals.c.store_id == store_id)
        rows = (await self._session.execute(query)).mappings()
        return [Terminal(**_fields(Terminal, r)) for r in rows]

    async def add_token(self, token: OrderQrToken) -> bool:
        """Insert a token; False when its short code collides (the caller draws another)."""
        statement = (
            pg_insert(order_qr_tokens)
            .values(_fields(OrderQrToken, token.__dict__))
            .on_conflict_do_nothing(index_elements=[order_qr_tokens.c.short_code])
            .returning(order_qr_tokens.c.token_id)
        )
        return (await self._session.scalar(statement)) is not None

    async def token(
        self,
        *,
        token_id: uuid.UUID | None = None,
        short_code: str | None = None,
        for_update: bool = False,
    ) -> OrderQrToken | None:
        """A token by id or short code, optionally row-locked."""
        t = order_qr_tokens
        query = sa.select(t).where(
            t.c.token_id == token_id if token_id is not None else t.c.short_code == short_code
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else OrderQrToken(**_fields(OrderQrToken, row))

    async def use_token(
        self, token_id: uuid.UUID, *, terminal_id: str, payment_id: uuid.UUID, now: datetime
    ) -> bool:
        """issued → used (guarded): a token pays once."""
        t = order_qr_tokens
        result = await self._session.execute(
            sa.update(t)
            .where(t.c.token_id == token_id, t.c.status == "issued", t.c.expires_at > now)
            .values(status="used", used_at=now, terminal_id=terminal_id, payment_id=payment_id)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def token_by_payment(self, payment_id: uuid.UUID) -> OrderQrToken | None:
        """The token a POS payment was reserved with."""
        t = order_qr_tokens
        row = (
            (await self._session.execute(sa.select(t).where(t.c.payment_id == payment_id)))
            .mappings()
            .first()
        )
        return None if row is None else OrderQrToken(**_fields(OrderQrToken, row))

    async def record_refusal(
        self,
        *,
        token_id: uuid.UUID | None,
        terminal_id: str,
        channel: str,
        code: str,
        detail: str,
        now: datetime,
    ) -> None:
        """Keep a refused terminal fetch (used, expired, wrong terminal or store …)."""
        await self._session.execute(
            sa.insert(pos_fetch_refusals).values(
                token_id=token_id,
                terminal_id=terminal_id[:64],
                channel=channel[:32],
                code=code,
                detail=detail[:300],
                at=now,
            )
        )

    async def refusals(self, limit: int) -> list[dict[str, Any]]:
        """The latest refused fetches."""
        t = pos_fetch_refusals
        query = sa.select(t).order_by(t.c.id.desc()).limit(min(limit, LIST_LIMIT_MAX))
        return [dict(r) for r in (await self._session.execute(query)).mappings()]

    async def park(self, parked: ParkedCallback) -> bool:
        """Park a callback (once per channel, order number and channel transaction)."""
        values = _fields(ParkedCallback, parked.__dict__)
        values["voucher"] = dict(parked.voucher)
        statement = (
            pg_insert(parked_callbacks)
            .values(values)
            .on_conflict_do_nothing(constraint="uq_parked_callbacks")
            .returning(parked_callbacks.c.parked_id)
        )
        return (await self._session.scalar(statement)) is not None

    async def parked(self, *, status: str | None, limit: int, offset: int) -> list[ParkedCallback]:
        """Parked callbacks, oldest first."""
        t = parked_callbacks
        query = sa.select(t).order_by(t.c.received_at, t.c.parked_id)
        if status:
            query = query.where(t.c.status == status)
        query = query.limit(min(limit, LIST_LIMIT_MAX)).offset(offset)
        rows = (await self._session.execute(query)).mappings()
        return [ParkedCallback(**_fields(ParkedCallback, r)) for r in rows]

    async def resolve_parked(
        self, parked_id: uuid.UUID, *, resolution: str, actor: str, now: datetime
    ) -> ParkedCallback | None:
        """open → resolved (guarded); None when unknown or already resolved."""
        t = parked_callbacks
        row = (
            (
                await self._session.execute(
                    sa.update(t)
                    .where(t.c.parked_id == parked_id, t.c.status == "open")
                    .values(
                        status="resolved", resolution=resolution, resolved_by=actor, resolved_at=now
                    )
                    .returning(t)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else ParkedCallback(**_fields(ParkedCallback, row))
