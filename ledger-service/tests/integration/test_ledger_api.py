"""The ledger's HTTP contract (DESIGN §3) on real PostgreSQL: accounts, journals, batch,
reversal, roles."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
import sqlalchemy as sa
from ledger_testkit import auth, journal, unique

from ledger_service.adapters.tables import messaging
from ledger_service.bootstrap import LedgerRuntime
from otd_shared.events import JournalPosted, decode_envelope

pytestmark = pytest.mark.integration

DAY = "2024-05-01"


async def open_accounts(client: httpx.AsyncClient, *specs: tuple[str, str]) -> None:
    for code, kind in specs:
        r = await client.post("/v1/accounts", json={"code": code, "type": kind, "currency": "CNY"})
        assert r.status_code == 201, r.text


async def balance(client: httpx.AsyncClient, code: str, day: str | None = None) -> int:
    params = {"date": day} if day else {}
    r = await client.get(f"/v1/accounts/{code}", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["net_debit_fen"] == body["debit_fen"] - body["credit_fen"]
    return int(body["net_debit_fen"])


async def test_open_account_is_idempotent_and_refuses_a_clash(client: httpx.AsyncClient) -> None:
    code = unique("bank:T")
    first = await client.post(
        "/v1/accounts", json={"code": code, "type": "asset", "currency": "CNY"}
    )
    assert first.status_code == 201, first.text
    assert first.json() | {"created": None} == {
        "code": code,
        "type": "asset",
        "currency": "CNY",
        "family": "bank",
        "owner": code.split(":")[1],
        "created": None,
    }
    assert first.json()["created"] is True
    again = await client.post(
        "/v1/accounts", json={"code": code, "type": "ASSET", "currency": "CNY"}
    )
    assert (again.status_code, again.json()["created"]) == (201, False)
    clash = await client.post(
        "/v1/accounts", json={"code": code, "type": "asset", "currency": "USD"}
    )
    assert clash.status_code == 409
    assert clash.json()["code"] == "account_conflict"
    wrong_family_type = await client.post(
        "/v1/accounts", json={"code": unique("deposits:O"), "type": "asset", "currency": "CNY"}
    )
    assert wrong_family_type.status_code == 422
    assert wrong_family_type.json()["code"] == "invalid_account"
    bad_type = await client.post("/v1/accounts", json={"code": unique("x"), "type": "cash"})
    assert bad_type.status_code == 422
    assert (await client.get(f"/v1/accounts/{unique('nope')}")).status_code == 404


async def test_roles_finance_only(client: httpx.AsyncClient) -> None:
    body = {"code": unique("acct"), "type": "asset", "currency": "CNY"}
    assert (
        await client.post("/v1/accounts", json=body, headers={"Authorization": ""})
    ).status_code == 401
    assert (await client.post("/v1/accounts", json=body, headers=auth("sre"))).status_code == 403
    assert (
        await client.get("/v1/trial-balance?date=2024-05-01", headers=auth("sre"))
    ).status_code == 403
    assert (
        await client.get("/v1/trial-balance?date=2024-05-01", headers=auth("app-backend"))
    ).status_code == 403
    approver = await client.post("/v1/accounts", json=body, headers=auth("finance-approver"))
    assert approver.status_code == 201


async def test_post_journal_then_replay_returns_the_first(client: httpx.AsyncClient) -> None:
    bank, rev = unique("bank:B"), unique("sales")
    await open_accounts(client, (bank, "asset"), (rev, "revenue"))
    source = unique("manual")
    first = await client.post(
        "/v1/journals", json=journal(source, DAY, (bank, 700, 0), (rev, 0, 700))
    )
    assert first.status_code == 201, first.text
    posted = first.json()
    assert posted["created"] is True
    assert posted["total_debit_fen"] == posted["total_credit_fen"] == 700
    assert [(x["account"], x["debit_fen"], x["credit_fen"]) for x in posted["lines"]] == [
        (bank, 700, 0),
        (rev, 0, 700),
    ]
    # Same source, different content: the first journal comes back, nothing new is posted.
    replay = await client.post("/v1/journals", json=journal(source, DAY, (bank, 5, 0), (rev, 0, 5)))
    assert replay.status_code == 200
    assert replay.json()["journal_id"] == posted["journal_id"]
    assert replay.json()["created"] is False
    assert replay.json()["lines"] == posted["lines"]
    assert await balance(client, bank) == 700
    fetched = await client.get(f"/v1/journals/{posted['journal_id']}")
    assert fetched.json()["source_kind"] == "manual"
    assert fetched.json()["reversed_by"] is None


async def test_unbalanced_unknown_and_malformed_journals_are_422(client: httpx.AsyncClient) -> None:
    bank, rev = unique("bank:B"), unique("sales")
    await open_accounts(client, (bank, "asset"), (rev, "revenue"))
    unbalanced = await client.post(
        "/v1/journals", json=journal(unique("s"), DAY, (bank, 100, 0), (rev, 0, 99))
    )
    assert unbalanced.status_code == 422
    assert unbalanced.json()["code"] == "unbalanced_journal"
    unknown = await client.post(
        "/v1/journals", json=journal(unique("s"), DAY, (bank, 100, 0), (unique("ghost"), 0, 100))
    )
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_account"
    two_sided = await client.post(
        "/v1/journals", json=journal(unique("s"), DAY, (bank, 100, 100), (rev, 0, 0))
    )
    assert two_sided.status_code == 422
    floats = journal(unique("s"), DAY, (bank, 100, 0), (rev, 0, 100))
    floats["lines"][0]["debit_fen"] = 100.0
    assert (await client.post("/v1/journals", json=floats)).status_code == 422
    one_line = journal(unique("s"), DAY, (bank, 100, 0))
    assert (await client.post("/v1/journals", json=one_line)).status_code == 422
    assert await balance(client, bank) == 0


async def test_batch_accepts_or_rejects_each_item(client: httpx.AsyncClient) -> None:
    bank, rev = unique("bank:B"), unique("sales")
    await open_accounts(client, (bank, "asset"), (rev, "revenue"))
    known = unique("known")
    assert (
        await client.post("/v1/journals", json=journal(known, DAY, (bank, 1, 0), (rev, 0, 1)))
    ).status_code == 201
    fresh, twice = unique("fresh"), unique("twice")
    items = [
        journal(fresh, DAY, (bank, 10, 0), (rev, 0, 10)),
        journal(known, DAY, (bank, 99, 0), (rev, 0, 99)),  # duplicate of an earlier post
        journal(unique("unb"), DAY, (bank, 10, 0), (rev, 0, 9)),  # unbalanced
        journal(unique("ghost"), DAY, (bank, 10, 0), (unique("ghost"), 0, 10)),  # unknown
        {"source_id": unique("bad"), "lines": []},  # malformed
        journal(twice, DAY, (bank, 20, 0), (rev, 0, 20)),
        journal(twice, DAY, (bank, 30, 0), (rev, 0, 30)),  # duplicate inside the batch
    ]
    r = await client.post("/v1/journals/batch", json={"journals": items})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["status"] for x in body["results"]] == [
        "created",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "created",
        "duplicate",
    ]
    assert (body["created"], body["duplicates"], body["rejected"]) == (2, 2, 3)
    errors = [x["error"]["code"] if x["error"] else None for x in body["results"]]
    assert errors[2:5] == ["unbalanced_journal", "unknown_account", "invalid_journal"]
    assert body["results"][6]["journal_id"] == body["results"][5]["journal_id"]
    assert await balance(client, bank) == 1 + 10 + 20
    too_many = {"journals": [items[0]] * 2001}
    assert (await client.post("/v1/journals/batch", json=too_many)).status_code == 422


async def test_reversal_undoes_a_journal_once(client: httpx.AsyncClient) -> None:
    bank, rev = unique("bank:B"), unique("sales")
    await open_accounts(client, (bank, "asset"), (rev, "revenue"))
    posted = await client.post(
        "/v1/journals", json=journal(unique("s"), DAY, (bank, 300, 0), (rev, 0, 300))
    )
    journal_id = posted.json()["journal_id"]
    source = unique("rev")
    body = {"source_id": source, "business_date": "2024-05-02", "reason": "wrong amount"}
    reversed_ = await client.post(f"/v1/journals/{journal_id}/reversal", json=body)
    assert reversed_.status_code == 201, reversed_.text
    reversal = reversed_.json()
    assert reversal["reverses_journal_id"] == journal_id
    assert [(x["debit_fen"], x["credit_fen"]) for x in reversal["lines"]] == [(0, 300), (300, 0)]
    assert await balance(client, bank) == 0
    assert await balance(client, bank, "2024-05-01") == 300
    replay = await client.post(f"/v1/journals/{journal_id}/reversal", json=body)
    assert (replay.status_code, replay.json()["journal_id"]) == (200, reversal["journal_id"])
    twice = await client.post(
        f"/v1/journals/{journal_id}/reversal", json=body | {"source_id": unique("rev")}
    )
    assert (twice.status_code, twice.json()["code"]) == (409, "already_reversed")
    of_reversal = await client.post(
        f"/v1/journals/{reversal['journal_id']}/reversal", json=body | {"source_id": unique("r")}
    )
    assert (of_reversal.status_code, of_reversal.json()["code"]) == (409, "reversal_of_reversal")
    early = await client.post(
        "/v1/journals", json=journal(unique("s"), "2024-05-03", (bank, 1, 0), (rev, 0, 1))
    )
    before = await client.post(
        f"/v1/journals/{early.json()['journal_id']}/reversal",
        json=body | {"source_id": unique("r"), "business_date": "2024-05-02"},
    )
    assert before.status_code == 422
    missing = await client.post(
        "/v1/journals/00000000-0000-0000-0000-000000000000/reversal", json=body
    )
    assert missing.status_code == 404
    fetched = await client.get(f"/v1/journals/{journal_id}")
    assert fetched.json()["reversed_by"] == reversal["journal_id"]


async def test_the_posting_lane_keeps_the_routes_behaviour(client: httpx.AsyncClient) -> None:
    """POST /v1/journals is served ahead of the shared middlewares (entrypoints/lane.py)."""
    bank = unique("bank:L")
    await open_accounts(client, (bank, "asset"))
    body = journal(unique("lane"), DAY, (bank, 5, 0), ("suspense", 0, 5))
    no_token = await client.post("/v1/journals", json=body, headers={"Authorization": ""})
    assert (no_token.status_code, no_token.headers["WWW-Authenticate"]) == (401, "Bearer")
    bad_token = await client.post("/v1/journals", json=body, headers={"Authorization": "Bearer x"})
    assert bad_token.status_code == 401
    assert (await client.post("/v1/journals", json=body, headers=auth("sre"))).status_code == 403
    broken = await client.post(
        "/v1/journals", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["loc"][0] == "body"
    missing = await client.post("/v1/journals", json={"source_id": "x"})
    assert missing.status_code == 422
    assert {tuple(e["loc"]) for e in missing.json()["detail"]} >= {
        ("body", "business_date"),
        ("body", "lines"),
    }
    huge = await client.post(
        "/v1/journals", content=b"x" * 5_000_000, headers={"Content-Type": "application/json"}
    )
    assert (huge.status_code, huge.json()["code"]) == (413, "body_too_large")
    posted = await client.post("/v1/journals", json=body, headers={"X-Correlation-ID": "corr-1"})
    assert (posted.status_code, posted.headers["X-Correlation-ID"]) == (201, "corr-1")
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="POST",route="/v1/journals",status="201"}' in metrics
    schema = (await client.get("/openapi.json")).json()
    assert "post" in schema["paths"]["/v1/journals"]


async def test_each_new_journal_writes_one_decodable_journal_posted(
    client: httpx.AsyncClient, runtime: LedgerRuntime
) -> None:
    order = unique("ORD")
    deposits = f"deposits:{order}"
    await open_accounts(client, (deposits, "liability"))
    with_order = journal(unique("jp"), DAY, ("clearing:alipay", 250, 0), (deposits, 0, 250))
    without = journal(unique("jp"), DAY, ("suspense", 40, 0), ("bank:MAIN", 0, 40))
    await open_accounts(client, ("bank:MAIN", "asset"))
    headers = {"X-Correlation-ID": "corr-jp"}
    ids = []
    for body in (with_order, without):
        posted = await client.post("/v1/journals", json=body, headers=headers)
        assert posted.status_code == 201
        ids.append(posted.json()["journal_id"])
        assert (await client.post("/v1/journals", json=body)).status_code == 200  # no new event
    batch = await client.post(
        "/v1/journals/batch",
        json={"journals": [journal(unique("jp"), DAY, (deposits, 10, 0), ("revenue", 0, 10))]},
    )
    ids.append(batch.json()["results"][0]["journal_id"])

    outbox = messaging.outbox
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                sa.select(
                    outbox.c.event_id, outbox.c.partition_key, outbox.c.body, outbox.c.topic
                ).where(outbox.c.event_type == "JournalPosted")
            )
        ).all()
    events = {}
    for event_id, key, body, topic in rows:
        envelope = decode_envelope(body.encode())  # the shared envelope, validated
        assert isinstance(envelope.payload, JournalPosted)
        if envelope.payload.journal_id in ids:
            assert envelope.event_id == event_id
            assert envelope.partition_key.decode() == key
            assert topic == "otd.ledger"
            events.setdefault(envelope.payload.journal_id, []).append(envelope)
    assert [len(events[i]) for i in ids] == [1, 1, 1]
    first, second, third = (events[i][0] for i in ids)
    assert (first.producer, first.correlation_id, first.order_id) == (
        "ledger-service",
        "corr-jp",
        order,
    )
    assert first.payload == JournalPosted(
        journal_id=ids[0], source_id=with_order["source_id"], business_date=date(2024, 5, 1),
        total_debit_fen=250, order_id=order,
    )  # fmt: skip
    assert (second.order_id, second.payload.total_debit_fen) == (None, 40)
    assert (third.order_id, third.payload.total_debit_fen) == (order, 10)
    assert first.occurred_at.tzinfo is not None
