"""SAP posting: documents per day, stable references, file drop, HTTP SAP, re-send, the CLI."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from ledger_sap_server import SapBooks, sap_server
from ledger_testkit import client_for, journal, running, settings_for, unique

from ledger_service.adapters.tables import messaging
from ledger_service.bootstrap import LedgerRuntime

pytestmark = pytest.mark.integration

HTTP_MAPPING = {
    "default_company_code": "2000",
    "gl_rules": [
        {"prefix": "clearing", "gl_account": "1012000000"},
        {"prefix": "deposits", "gl_account": "2203000000"},
        {"prefix": "revenue", "gl_account": "6001000000"},
    ],
}


async def post_day(client: httpx.AsyncClient, day: str, order: str, count: int) -> list[str]:
    """`count` payments and one delivery of an order on `day`; returns the journal ids."""
    deposits = f"deposits:{order}"
    r = await client.post("/v1/accounts", json={"code": deposits, "type": "liability"})
    assert r.status_code == 201
    bodies = [
        journal(
            unique("pay"),
            day,
            ("clearing:wechatpay", 1_000 * (n + 1), 0),
            (deposits, 0, 1_000 * (n + 1)),
        )
        for n in range(count)
    ]
    total = sum(1_000 * (n + 1) for n in range(count))
    bodies.append(journal(unique("dlv"), day, (deposits, total, 0), ("revenue", 0, total)))
    ids = []
    for body in bodies:
        posted = await client.post("/v1/journals", json=body)
        assert posted.status_code == 201, posted.text
        ids.append(posted.json()["journal_id"])
    return ids


async def run(client: httpx.AsyncClient, day: str) -> list[dict[str, Any]]:
    r = await client.post("/v1/sap/runs", json={"date": day})
    assert r.status_code == 200, r.text
    assert r.json()["date"] == day
    return list(r.json()["documents"])


async def sap_events(runtime: LedgerRuntime, reference: str) -> list[dict[str, Any]]:
    outbox = messaging.outbox
    async with runtime.sessions() as session:
        bodies = await session.scalars(
            sa.select(outbox.c.body).where(outbox.c.event_type == "JournalPosted")
        )
        events = [json.loads(body)["payload"] for body in bodies]
    return [e for e in events if e["sap_document_ref"] == reference]


async def test_file_drop_posts_a_day_once_and_records_answers(
    client: httpx.AsyncClient, runtime: LedgerRuntime, tmp_path: Path
) -> None:
    day = "2041-01-15"
    ids = await post_day(client, day, unique("ORD"), 3)
    [doc] = await run(client, day)
    assert (doc["status"], doc["journal_count"], doc["company_code"]) == ("sent", 4, "1000")
    assert doc["total_debit_fen"] == doc["total_credit_fen"] == 12_000
    assert [(x["posting_key"], x["gl_account"], x["amount_fen"]) for x in doc["lines"]] == [
        ("40", "1012000000", 6_000),  # clearing, summed over three payments
        ("40", "2203000000", 6_000),  # deposits debited at delivery
        ("50", "2203000000", 6_000),
        ("50", "6001000000", 6_000),
    ]
    path = tmp_path / "sap" / day / f"1000_{doc['reference']}.json"
    dropped = json.loads(path.read_text())
    assert dropped["layout"] == "otd-ledger-sap-document/1"
    assert (dropped["reference"], dropped["posting_date"]) == (doc["reference"], day)
    assert dropped["lines"][0]["amount"] == "60.00"

    # Running again sends nothing twice and makes no new document.
    again = await run(client, day)
    assert [(d["reference"], d["attempts"]) for d in again] == [(doc["reference"], 1)]

    # A journal posted late for the day goes into a new document with a new reference.
    late = await post_day(client, day, unique("ORD"), 1)
    documents = await run(client, day)
    assert len(documents) == 2
    second = next(d for d in documents if d["reference"] != doc["reference"])
    assert second["journal_count"] == len(late)

    # SAP's answers arrive as files; the next run records them.
    acks = tmp_path / "sap" / "acks"
    acks.mkdir()
    (acks / f"{doc['reference']}.json").write_text(
        json.dumps({"status": "acknowledged", "sap_document_number": "4900000001"})
    )
    (acks / f"{second['reference']}.json").write_text(
        json.dumps({"status": "rejected", "reason": "posting period 2041/01 closed"})
    )
    by_ref = {d["reference"]: d for d in await run(client, day)}
    assert by_ref[doc["reference"]]["status"] == "acknowledged"
    assert by_ref[doc["reference"]]["sap_document_number"] == "4900000001"
    assert by_ref[second["reference"]]["status"] == "rejected"
    assert by_ref[second["reference"]]["reason"] == "posting period 2041/01 closed"
    announced = await sap_events(runtime, doc["reference"])
    assert sorted(e["journal_id"] for e in announced) == sorted(ids)

    # After the fix, the rejected document is sent again under the same reference.
    (acks / f"{second['reference']}.json").unlink()
    resent = await client.post(f"/v1/sap/documents/{second['reference']}/resend")
    assert (resent.status_code, resent.json()["status"], resent.json()["attempts"]) == (
        200,
        "sent",
        2,
    )
    refused = await client.post(f"/v1/sap/documents/{doc['reference']}/resend")
    assert (refused.status_code, refused.json()["code"]) == (409, "sap_state_conflict")
    listed = await client.get("/v1/sap/documents", params={"date": day, "status": "acknowledged"})
    assert [d["reference"] for d in listed.json()] == [doc["reference"]]
    assert (await client.get("/v1/sap/documents/NOPE")).status_code == 404


async def test_unmapped_account_fails_the_day_with_422(client: httpx.AsyncClient) -> None:
    day = "2041-02-01"
    odd = unique("odd-asset")
    assert (
        await client.post("/v1/accounts", json={"code": odd, "type": "asset"})
    ).status_code == 201
    posted = await client.post(
        "/v1/journals", json=journal(unique("s"), day, (odd, 5, 0), ("suspense", 0, 5))
    )
    assert posted.status_code == 201
    r = await client.post("/v1/sap/runs", json={"date": day})
    assert (r.status_code, r.json()["code"]) == (422, "unmapped_account")
    assert odd in r.json()["detail"]


async def test_http_sap_rejects_then_books_once_after_the_mapping_fix(
    ledger_url: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    day = "2041-03-10"
    await post_day(client, day, unique("ORD"), 2)
    books = SapBooks(blocked_gl_accounts={"6001000000"})
    async with sap_server(books) as url:
        # SAP unreachable first: the document stays pending with the error.
        down = settings_for(
            ledger_url, sap_connector="http", sap_http_url="http://127.0.0.1:1/sap",
            sap_mapping_json=json.dumps(HTTP_MAPPING), sap_http_timeout_ms=500,
        )  # fmt: skip
        async with running(down) as rt, client_for(rt) as http:
            [doc] = await run(http, day)
            assert (doc["status"], doc["attempts"]) == ("pending", 1)
            assert "unreachable" in doc["last_error"]
        settings = settings_for(
            ledger_url, sap_connector="http", sap_http_url=url,
            sap_mapping_json=json.dumps(HTTP_MAPPING),
        )  # fmt: skip
        async with running(settings) as rt, client_for(rt) as http:
            [doc] = await run(http, day)
            assert doc["status"] == "rejected"
            assert doc["reason"] == "G/L account 6001000000 is blocked for posting"
            assert books.booked == {}
        # The fix: revenue books to another G/L account; the document is rebuilt and re-sent.
        fixed = dict(HTTP_MAPPING)
        fixed["gl_rules"] = [
            *HTTP_MAPPING["gl_rules"][:2],  # type: ignore[index]
            {"prefix": "revenue", "gl_account": "6001010000"},
        ]
        settings = settings.model_copy(update={"sap_mapping_json": json.dumps(fixed)})
        async with running(settings) as rt, client_for(rt) as http:
            resent = (await http.post(f"/v1/sap/documents/{doc['reference']}/resend")).json()
            assert resent["status"] == "acknowledged"
            assert resent["sap_document_number"] == books.numbers[doc["reference"]]
            assert {x["gl_account"] for x in resent["lines"]} >= {"6001010000"}
            again = await http.post(f"/v1/sap/documents/{doc['reference']}/resend")
            assert again.status_code == 409
            await run(http, day)
        assert list(books.booked) == [doc["reference"]]
        assert books.received.count(doc["reference"]) == 2  # the rejection, then the booking


async def test_sap_post_command_runs_the_daily_job(
    ledger_url: str, client: httpx.AsyncClient, tmp_path: Path
) -> None:
    day = "2041-04-01"
    await post_day(client, day, unique("ORD"), 1)
    outbox = tmp_path / "cli-sap"
    env = {
        **os.environ,
        "DATABASE_URL": ledger_url,
        "SAP_OUTBOX_DIR": str(outbox),
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ledger_service", "sap-post", "--date", day,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, err.decode()
    [line] = out.decode().splitlines()
    summary = json.loads(line)
    assert (summary["status"], summary["posting_date"], summary["journal_count"]) == (
        "sent",
        day,
        2,
    )
    assert (outbox / day / f"1000_{summary['reference']}.json").is_file()
