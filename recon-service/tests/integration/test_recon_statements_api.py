"""POST /v1/statements and the statement reads on real PostgreSQL: every source loads through
COPY, a re-upload answers with the first statement, broken and oversized files store nothing."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from recon_service.adapters import statement_repo
from recon_service.domain import BUSINESS_TZ
from recon_service.testing.statement_files import (
    Txn,
    alipay_detail,
    alipay_zip,
    allinpay_csv,
    cash_csv,
    lakala_csv,
    unionpay_zm,
    wechat_bill,
    wire_csv,
)

pytestmark = pytest.mark.integration

DAY = date(2024, 6, 3)


def txns(n: int, *, refunds: int = 0) -> list[Txn]:
    """n payments and some refunds of the first payments; unique ids per call."""
    tag = uuid.uuid4().int % 10**6
    start = datetime(2024, 6, 3, 9, 0, tzinfo=BUSINESS_TZ)
    pays = [
        Txn(
            out_trade_no=f"P240603{tag:06d}{i:014d}",
            channel_txn_id=f"4{tag:06d}{i:014d}",
            amount_fen=100_000 + i,
            at=start + timedelta(minutes=i),
            fee_fen=i % 7,
        )
        for i in range(n)
    ]
    backs = [
        Txn(
            out_trade_no=p.out_trade_no,
            channel_txn_id=p.channel_txn_id,
            amount_fen=500,
            at=p.at + timedelta(hours=1),
            refund=True,
            out_refund_no=f"R{p.out_trade_no[1:]}",
            fee_fen=0,
        )
        for p in pays[:refunds]
    ]
    return pays + backs


BUILDERS: dict[str, Callable[[list[Txn]], bytes]] = {
    "wechatpay": lambda t: wechat_bill(t),
    "alipay": lambda t: alipay_zip(t, DAY),
    "lakala": lambda t: lakala_csv(t),
    "unionpay": lambda t: unionpay_zm(t),
    "allinpay": lambda t: allinpay_csv(t),
    "cash": lambda t: cash_csv(t, DAY),
    "wire": lambda t: wire_csv(t, DAY),
}


@pytest.mark.parametrize("source", list(BUILDERS))
async def test_every_source_loads_through_copy(recon, source: str) -> None:
    batch = txns(20, refunds=3)
    content = BUILDERS[source](batch)
    date_field = DAY.isoformat() if source == "unionpay" else None

    response = await recon.upload(source, content, statement_date=date_field)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["source"], body["statement_date"], body["lines"]) == (source, "2024-06-03", 23)
    assert body["payment_total_fen"] == sum(t.amount_fen for t in batch if not t.refund)
    assert body["refund_total_fen"] == 1_500
    assert body["created"] is True
    stored = await recon.scalar(
        "SELECT count(*) FROM recon.statement_lines WHERE statement_id = :id",
        id=uuid.UUID(body["statement_id"]),
    )
    assert stored == 23


async def test_upload_reads_and_statement_loaded(recon) -> None:
    batch = txns(12, refunds=2)
    created = (await recon.upload("wechatpay", wechat_bill(batch), filename="bill.csv")).json()
    statement_id = created["statement_id"]

    listed = await recon.http.get(
        "/v1/statements",
        params={"source": "wechatpay", "statement_date": "2024-06-03", "limit": 100},
        headers=recon.auth("finance-approver"),
    )
    page1 = await recon.http.get(
        f"/v1/statements/{statement_id}/lines", params={"limit": 5}, headers=recon.auth()
    )
    page3 = await recon.http.get(
        f"/v1/statements/{statement_id}/lines",
        params={"limit": 5, "offset": 10},
        headers=recon.auth(),
    )
    refunds = await recon.http.get(
        f"/v1/statements/{statement_id}/lines", params={"kind": "refund"}, headers=recon.auth()
    )

    assert statement_id in [s["statement_id"] for s in listed.json()["items"]]
    assert page1.json()["total"] == 14
    assert [line["line_no"] for line in page1.json()["items"]] == [2, 3, 4, 5, 6]
    assert len(page3.json()["items"]) == 4
    first = page1.json()["items"][0]
    assert first["out_trade_no"] == batch[0].out_trade_no
    assert first["occurred_at"].startswith("2024-06-03T01:00:00")  # 09:00 in Shanghai
    assert first["refs"]["trade_type"] == "APP"
    assert [line["kind"] for line in refunds.json()["items"]] == ["refund", "refund"]
    events = [
        e for e in await recon.outbox("StatementLoaded")
        if e["payload"]["statement_id"] == statement_id
    ]  # fmt: skip
    assert len(events) == 1
    payload = events[0]["payload"]
    assert payload["lines"] == 14
    assert payload["total_amount_fen"] == created["payment_total_fen"] - 1_000
    assert payload["total_fee_fen"] == created["fee_total_fen"]


async def test_the_same_file_again_answers_the_first_statement(recon) -> None:
    content = alipay_zip(txns(5), DAY)

    first = await recon.upload("alipay", content)
    again = await recon.upload("alipay", content)
    events_before = len(await recon.outbox("StatementLoaded"))
    concurrent = await asyncio.gather(*(recon.upload("alipay", content) for _ in range(3)))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["statement_id"] == first.json()["statement_id"]
    assert again.json()["created"] is False
    assert {r.json()["statement_id"] for r in concurrent} == {first.json()["statement_id"]}
    assert len(await recon.outbox("StatementLoaded")) == events_before


async def test_concurrent_first_uploads_store_one_statement(recon) -> None:
    content = cash_csv(txns(30), DAY)

    answers = await asyncio.gather(*(recon.upload("cash", content) for _ in range(4)))

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["statement_id"] for a in answers}) == 1
    sha = answers[0].json()["content_sha256"]
    assert (
        await recon.scalar(
            "SELECT count(*) FROM recon.statements WHERE content_sha256 = :sha", sha=sha
        )
        == 1
    )


async def test_a_broken_file_is_422_with_its_line_and_stores_nothing(recon) -> None:
    content = wechat_bill(txns(10)).replace(b"`1000.05,", b"`1000.051,")
    statements_before = await recon.scalar("SELECT count(*) FROM recon.statements")
    lines_before = await recon.scalar("SELECT count(*) FROM recon.statement_lines")

    response = await recon.upload("wechatpay", content)

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "statement_format"
    assert body["line_no"] == 7
    assert body["detail"].startswith("line 7: 应结订单金额")
    assert await recon.scalar("SELECT count(*) FROM recon.statements") == statements_before
    assert await recon.scalar("SELECT count(*) FROM recon.statement_lines") == lines_before


async def test_a_truncated_zip_is_422_for_the_file(recon) -> None:
    content = alipay_zip(txns(40), DAY)

    response = await recon.upload("alipay", content[:-200])

    assert response.status_code == 422
    assert response.json()["line_no"] is None


async def test_unknown_source_missing_date_and_roles(recon) -> None:
    unknown = await recon.upload("paypal", b"x")
    no_date = await recon.upload("unionpay", unionpay_zm(txns(1)), filename="zm.txt")
    empty = await recon.upload("wechatpay", b"")
    cashier = await recon.upload("cash", cash_csv(txns(1), DAY), role="cashier")
    anonymous = await recon.http.get("/v1/statements")

    assert (unknown.status_code, unknown.json()["code"], unknown.json()["field"]) == (
        422, "unknown_source", "source",
    )  # fmt: skip
    assert (no_date.status_code, no_date.json()["code"]) == (422, "statement_date_missing")
    assert empty.status_code == 422
    assert cashier.status_code == 403
    assert anonymous.status_code == 401


async def test_an_oversized_upload_is_413_and_stores_nothing(recon_with) -> None:
    content = wechat_bill(txns(50))
    assert 4096 < len(content) < 1_000_000

    async with recon_with(statement_max_file_bytes=4096) as small:
        before = await small.scalar("SELECT count(*) FROM recon.statements")
        over_limit = await small.upload("wechatpay", content)
        after = await small.scalar("SELECT count(*) FROM recon.statements")
    async with recon_with(max_request_body_bytes=4096) as tiny_body:
        over_body = await tiny_body.upload("wechatpay", content)

    assert (over_limit.status_code, over_limit.json()["code"]) == (413, "statement_too_large")
    assert after == before
    assert over_body.status_code == 413


async def test_unknown_statement_is_404(recon) -> None:
    response = await recon.http.get(f"/v1/statements/{uuid.uuid4()}/lines", headers=recon.auth())
    assert (response.status_code, response.json()["code"]) == (404, "statement_not_found")


# Sources with a bulk path: the ordinary file, and the same with a blank line before the rows
# (the per-line parser skips it; the bulk path falls back).
BULK_SOURCES: dict[str, tuple[Callable[[list[Txn]], bytes], Callable[[bytes], bytes]]] = {
    "wechatpay": (wechat_bill, lambda b: b.replace(b"\r\n`", b"\r\n \r\n`", 1)),
    "lakala": (lakala_csv, lambda b: b.replace(b"\n", b"\n \n", 1)),
    "alipay": (lambda t: alipay_detail(t, DAY), lambda b: b.replace(b"\r\n4", b"\r\n \r\n4", 1)),
    "cash": (lambda t: cash_csv(t, DAY), lambda b: b.replace(b"\n", b"\n \n", 1)),
    "wire": (lambda t: wire_csv(t, DAY), lambda b: b.replace(b"\n", b"\n \n", 1)),
    "unionpay": (unionpay_zm, lambda b: b" \r\n" + b),  # no header: the blank line first
    "allinpay": (allinpay_csv, lambda b: b.replace(b"\r\n", b"\r\n \r\n", 1)),
}
# What an upload of a source must name besides the file (ZM's times carry no year).
UPLOAD_FORM: dict[str, dict[str, str]] = {"unionpay": {"statement_date": DAY.isoformat()}}


@pytest.mark.parametrize("source", list(BULK_SOURCES))
async def test_a_file_off_the_bulk_path_loads_the_same_lines(
    recon, source: str, caplog: pytest.LogCaptureFixture
) -> None:
    """An ordinary file goes by the bulk path (COPY text, no fallback logged); the same file
    with a blank line among the rows falls back to the per-line parser: both store the same
    lines."""
    build, add_blank = BULK_SOURCES[source]
    batch = txns(30, refunds=4)
    ordinary = build(batch)
    with_blank = add_blank(ordinary)  # the rows a line further down
    assert with_blank != ordinary

    loaded, gave_up = [], []
    for data in (ordinary, with_blank):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=statement_repo.__name__):
            loaded.append((await recon.upload(source, data, **UPLOAD_FORM.get(source, {}))).json())
        gave_up.append("the bulk path gave up" in caplog.text)
    assert gave_up == [False, True]

    stored = []
    for body in loaded:
        assert body["created"] is True
        rows = await recon.rows(
            "SELECT line_no, kind, out_trade_no, channel_txn_id, out_refund_no, amount_fen,"
            " fee_fen, status, occurred_at, refs, statement_date FROM recon.statement_lines"
            " WHERE statement_id = :id ORDER BY line_no",
            id=uuid.UUID(body["statement_id"]),
        )
        stored.append(rows)
    assert [r[1:] for r in stored[0]] == [r[1:] for r in stored[1]]
    first_no = stored[0][0][0]
    assert [r[0] for r in stored[0]] == list(range(first_no, first_no + 34))
    assert [r[0] for r in stored[1]] == list(range(first_no + 1, first_no + 35))
    assert {k: v for k, v in loaded[0].items() if k.endswith(("_fen", "_count", "lines"))} == {
        k: v for k, v in loaded[1].items() if k.endswith(("_fen", "_count", "lines"))
    }


async def test_a_row_with_no_key_is_422_with_its_line(recon) -> None:
    """A refund row of Allinpay's with neither 订单号 nor 原交易单 (only its own 交易单号) names
    nothing a line can be matched by: refused with its line, nothing stored."""
    at = datetime(2024, 6, 3, 12, 0, tzinfo=BUSINESS_TZ)
    refund = Txn(out_trade_no="", channel_txn_id="", amount_fen=500, at=at, refund=True)
    content = allinpay_csv([*txns(3), refund])
    lines_before = await recon.scalar("SELECT count(*) FROM recon.statement_lines")

    response = await recon.upload("allinpay", content, statement_date=DAY.isoformat())

    assert response.status_code == 422, response.text
    body = response.json()
    assert (body["code"], body["line_no"]) == ("statement_format", 5)
    assert await recon.scalar("SELECT count(*) FROM recon.statement_lines") == lines_before


@pytest.mark.parametrize("refund", [False, True], ids=["payment", "refund"])
@pytest.mark.parametrize("source", list(BUILDERS))
async def test_a_keyless_row_of_any_source_is_refused_not_a_crash(
    recon, source: str, refund: bool
) -> None:
    at = datetime(2024, 6, 3, 12, 0, tzinfo=BUSINESS_TZ)
    keyless = Txn(out_trade_no="", channel_txn_id="", amount_fen=500, at=at, refund=refund)
    statements_before = await recon.scalar("SELECT count(*) FROM recon.statements")

    response = await recon.upload(
        source, BUILDERS[source]([*txns(3), keyless]), statement_date=DAY.isoformat()
    )

    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert response.json()["code"] in ("statement_format", "statement_empty"), response.text
    else:  # a layout whose rows always carry a key of the channel's own (a receipt number…)
        assert response.json()["lines"] == 4
        assert await recon.scalar("SELECT count(*) FROM recon.statements") == statements_before + 1


@pytest.mark.parametrize("path", ["bulk", "per-line"])
@pytest.mark.parametrize("source", list(BULK_SOURCES))
async def test_a_repeated_line_is_an_exception_at_upload_on_either_path(
    recon, source: str, path: str
) -> None:
    """The load tells from the parsed keys whether two lines may be alike (and then asks the
    server): a line given twice is found by either parser; a file without one has none."""
    build, add_blank = BULK_SOURCES[source]
    batch = txns(8, refunds=2)
    for data, repeated in ((build(batch), False), (build([*batch, batch[3]]), True)):
        content = add_blank(data) if path == "per-line" else data
        loaded = await recon.upload(source, content, **UPLOAD_FORM.get(source, {}))
        assert loaded.status_code == 201, loaded.text
        listed = await recon.http.get(
            "/v1/upload-exceptions",
            params={"statement_id": loaded.json()["statement_id"]},
            headers=recon.auth(),
        )
        codes = [e["code"] for e in listed.json()["items"]]
        assert codes == (["duplicate_line"] if repeated else []), (source, path, codes)


@pytest.mark.parametrize("bad", ["\x00", "\ud800"], ids=["nul", "lone-surrogate"])
async def test_a_value_the_server_refuses_mid_copy_is_refused_whole(
    recon, bad: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A character PostgreSQL cannot store, in our trade number of a row in the file's second
    block: the bulk path COPYs the first block, the server refuses the second (NUL; a lone
    surrogate is not UTF-8 and falls back before), the load parses the file again line by
    line, and the upload is refused with its line, nothing of it stored."""
    content = wechat_bill(txns(12_000))
    row = content.split(b"\r\n")[10_000]
    broken_row = row.replace(b"`P2406", b"`P" + bad.encode("utf-8", "surrogatepass") + b"2406", 1)
    assert broken_row != row
    broken = content.replace(row, broken_row, 1)
    lines_before = await recon.scalar("SELECT count(*) FROM recon.statement_lines")

    with caplog.at_level(logging.INFO, logger=statement_repo.__name__):
        response = await recon.upload("wechatpay", broken, statement_date=DAY.isoformat())

    gave_up = [r.getMessage() for r in caplog.records if "bulk path gave up" in r.getMessage()]
    assert len(gave_up) == 1, caplog.text
    if bad == "\x00":  # refused by the server, part way through the COPY
        assert "0x00" in gave_up[0], gave_up
    assert response.status_code == 422, response.text
    assert response.json()["line_no"] == 10_001, response.json()  # the header is line 1
    assert await recon.scalar("SELECT count(*) FROM recon.statement_lines") == lines_before
