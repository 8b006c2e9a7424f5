"""Finance queries: balances at any date, trial balance, order statement, journal lists, CSV."""

from __future__ import annotations

import csv
import io

import httpx
import pytest
from ledger_testkit import journal, unique

pytestmark = pytest.mark.integration


async def open_account(client: httpx.AsyncClient, code: str, kind: str) -> None:
    r = await client.post("/v1/accounts", json={"code": code, "type": kind})
    assert r.status_code == 201, r.text


async def post(client: httpx.AsyncClient, body: dict[str, object]) -> dict[str, object]:
    r = await client.post("/v1/journals", json=body)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_trial_balance_contract_and_dates(client: httpx.AsyncClient) -> None:
    bank, fees = unique("bank:TB"), unique("fees-x")
    for code, kind in ((bank, "asset"), (fees, "expense")):
        assert (
            await client.post("/v1/accounts", json={"code": code, "type": kind})
        ).status_code == 201
    await post(client, journal(unique("s"), "2030-01-01", (bank, 1_000, 0), ("revenue", 0, 1_000)))
    await post(client, journal(unique("s"), "2030-01-02", (fees, 30, 0), (bank, 0, 30)))

    r = await client.get("/v1/trial-balance", params={"date": "2030-01-01"})
    assert r.status_code == 200, r.text
    tb = r.json()
    assert set(tb) >= {"date", "accounts", "total_debit_fen", "total_credit_fen"}
    assert tb["date"] == "2030-01-01"
    assert tb["total_debit_fen"] == tb["total_credit_fen"]
    rows = {row["account"]: row for row in tb["accounts"]}
    assert set(rows[bank]) == {"account", "debit_fen", "credit_fen"}
    assert (rows[bank]["debit_fen"], rows[bank]["credit_fen"]) == (1_000, 0)
    assert (rows[fees]["debit_fen"], rows[fees]["credit_fen"]) == (0, 0)
    assert sum(row["debit_fen"] for row in tb["accounts"]) == tb["total_debit_fen"]

    later = {
        row["account"]: row
        for row in (await client.get("/v1/trial-balance", params={"date": "2030-01-02"})).json()[
            "accounts"
        ]
    }
    assert (later[bank]["debit_fen"], later[fees]["debit_fen"]) == (970, 30)
    assert (await client.get("/v1/trial-balance", params={"date": "2030-13-01"})).status_code == 422

    exported = await client.get("/v1/export/trial-balance.csv", params={"date": "2030-01-02"})
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == ["account", "debit_fen", "credit_fen"]
    assert [bank, "970", "0"] in table
    assert table[-1][0] == "TOTAL"
    assert table[-1][1] == table[-1][2]


async def test_balance_of_an_account_at_any_date(client: httpx.AsyncClient) -> None:
    bank = unique("bank:AT")
    assert (
        await client.post("/v1/accounts", json={"code": bank, "type": "asset"})
    ).status_code == 201
    for day, fen in (("2031-03-01", 100), ("2031-03-03", 50), ("2031-03-05", 25)):
        await post(client, journal(unique("s"), day, (bank, fen, 0), ("suspense", 0, fen)))
    expected = {"2031-02-28": 0, "2031-03-01": 100, "2031-03-04": 150, "2031-03-05": 175}
    for day, fen in expected.items():
        body = (await client.get(f"/v1/accounts/{bank}", params={"date": day})).json()
        assert (body["balance_fen"], body["as_of"]) == (fen, day)
    whole = (await client.get(f"/v1/accounts/{bank}")).json()
    assert (whole["debit_fen"], whole["credit_fen"], whole["type"]) == (175, 0, "asset")
    suspense = (await client.get("/v1/accounts/suspense")).json()
    assert suspense["balance_fen"] == -suspense["net_debit_fen"]  # credit-normal liability


async def test_order_statement_shows_paid_refunded_held_recognised(
    client: httpx.AsyncClient,
) -> None:
    order = unique("ORD")
    deposits = f"deposits:{order}"
    assert (
        await client.post("/v1/accounts", json={"code": deposits, "type": "liability"})
    ).status_code == 201
    day = "2024-06-01"
    await post(
        client, journal(unique("pay"), day, ("clearing:wechatpay", 5_000, 0), (deposits, 0, 5_000))
    )
    await post(
        client, journal(unique("pay"), day, ("clearing:alipay", 3_000, 0), (deposits, 0, 3_000))
    )
    await post(
        client, journal(unique("ref"), day, (deposits, 1_000, 0), ("clearing:alipay", 0, 1_000))
    )
    wrong = await post(
        client, journal(unique("pay"), day, ("clearing:lakala", 400, 0), (deposits, 0, 400))
    )
    r = await client.post(
        f"/v1/journals/{wrong['journal_id']}/reversal",
        json={"source_id": unique("rev"), "business_date": day, "reason": "duplicate capture"},
    )
    assert r.status_code == 201
    await post(client, journal(unique("dlv"), day, (deposits, 6_000, 0), ("revenue", 0, 6_000)))

    statement = (await client.get(f"/v1/orders/{order}/statement")).json()
    assert statement["order_id"] == order
    assert statement["account"] == deposits
    assert len(statement["lines"]) == 12  # six journals, two lines each
    assert {line["account"] for line in statement["lines"]} >= {deposits, "revenue"}
    assert statement["summary"] == {
        "paid_fen": 8_400,
        "refunded_fen": 1_000,
        "recognised_fen": 6_000,
        "reversed_fen": -400,
        "held_fen": 1_000,
    }
    empty = (await client.get(f"/v1/orders/{unique('ORD')}/statement")).json()
    assert (empty["lines"], empty["summary"]["held_fen"]) == ([], 0)


async def test_journals_by_source_account_date_paginated_and_exported(
    client: httpx.AsyncClient,
) -> None:
    bank = unique("bank:PG")
    assert (
        await client.post("/v1/accounts", json={"code": bank, "type": "asset"})
    ).status_code == 201
    sources = [unique("pg") for _ in range(7)]
    for n, source in enumerate(sources):
        day = f"2032-01-0{1 + n % 3}"
        await post(client, journal(source, day, (bank, 10 + n, 0), ("suspense", 0, 10 + n)))

    by_source = (await client.get("/v1/journals", params={"source_id": sources[3]})).json()
    assert [j["source_id"] for j in by_source["journals"]] == [sources[3]]

    seen: list[str] = []
    after = 0
    while True:
        page = (
            await client.get("/v1/journals", params={"account": bank, "limit": 3, "after": after})
        ).json()
        seen += [j["source_id"] for j in page["journals"]]
        if page["next_after"] is None:
            break
        after = page["next_after"]
    assert seen == sources

    day_two = (
        await client.get(
            "/v1/journals",
            params={"account": bank, "date_from": "2032-01-02", "date_to": "2032-01-02"},
        )
    ).json()
    assert [j["source_id"] for j in day_two["journals"]] == [sources[1], sources[4]]

    exported = await client.get(
        "/v1/export/journal-lines.csv", params={"account": bank, "date_to": "2032-01-01"}
    )
    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["source_id"] for r in rows if r["account"] == bank] == [
        sources[0],
        sources[3],
        sources[6],
    ]
    assert len(rows) == 6  # both lines of each journal
    assert all(int(r["debit_fen"]) + int(r["credit_fen"]) > 0 for r in rows)
    assert (await client.get("/v1/journals/not-a-uuid")).status_code == 422
