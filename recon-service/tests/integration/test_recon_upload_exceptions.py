"""Uploads refused whole (empty, header only, broken, hostile) recorded as exceptions at
upload and never replacing the day's statement; duplicate lines listed as exceptions at
upload, not as discrepancies."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from recon_service.testing.statement_files import (
    Txn,
    alipay_zip,
    allinpay_csv,
    cash_csv,
    lakala_csv,
    unionpay_zm,
    wechat_bill,
    wire_csv,
)

pytestmark = pytest.mark.integration
DAY = date(2031, 9, 3)


def txn(n: int, tag: str) -> Txn:
    return Txn(
        out_trade_no=f"P{tag}{n:010d}",
        channel_txn_id=f"{n:014d}",
        amount_fen=10_000 + n,
        at=datetime(2031, 9, 3, 3, 0, tzinfo=UTC) + timedelta(minutes=n),
    )


HEADER_ONLY = {
    "wechatpay": wechat_bill([]),
    "alipay": alipay_zip([], DAY),
    "unionpay": b"",
    "allinpay": allinpay_csv([]),
    "cash": cash_csv([], DAY),
    "wire": wire_csv([], DAY),
    "lakala": lakala_csv([]),
}


async def exceptions(recon, **params: str) -> list[dict[str, object]]:
    response = await recon.http.get(
        "/v1/upload-exceptions", params={"limit": 500, **params}, headers=recon.auth()
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, object]] = response.json()["items"]
    return items


@pytest.mark.parametrize("source", sorted(HEADER_ONLY))
async def test_an_empty_or_header_only_file_is_refused_for_every_source(recon, source) -> None:
    day = DAY.isoformat()
    for content in (b"", HEADER_ONLY[source]):
        refused = await recon.upload(source, content, statement_date=day, filename=f"{source}.x")
        assert refused.status_code == 422, (source, refused.text)
        assert refused.json()["code"] in ("statement_empty", "statement_format"), refused.text
    listed = await exceptions(recon, source=source, statement_date=day)
    assert len(listed) >= 2
    assert all(e["statement_id"] is None for e in listed)
    statements = await recon.http.get(
        "/v1/statements", params={"source": source, "statement_date": day}, headers=recon.auth()
    )
    assert statements.json()["total"] == 0


async def test_an_empty_unionpay_file_does_not_replace_the_real_statement(recon) -> None:
    tag = uuid.uuid4().hex[:6]
    day = "2031-09-04"
    real = await recon.upload("unionpay", unionpay_zm([txn(1, tag)]), statement_date=day)
    assert real.status_code == 201, real.text
    empty = await recon.upload("unionpay", b"", statement_date=day)
    assert (empty.status_code, empty.json()["code"]) == (422, "statement_empty")
    run = await recon.run("unionpay", day)
    assert run["statement_id"] == real.json()["statement_id"]


async def test_a_broken_file_is_refused_whole_with_its_line(recon) -> None:
    tag = uuid.uuid4().hex[:6]
    good = wechat_bill([txn(n, tag) for n in range(1, 20)])
    broken = good.replace(b"`SUCCESS", b"`SUCC\xffESS", 1)
    refused = await recon.upload("wechatpay", broken, statement_date="2031-09-05")
    assert refused.status_code == 422
    body = refused.json()
    assert (body["line_no"], body["code"]) == (2, "statement_charset"), body
    listed = await exceptions(recon, source="wechatpay", statement_date="2031-09-05")
    assert [(e["line_no"], e["code"]) for e in listed] == [(2, "statement_charset")]
    lines = await recon.scalar(
        "SELECT count(*) FROM recon.statement_lines WHERE statement_date = '2031-09-05'"
    )
    assert lines == 0  # nothing half-loaded


async def test_duplicate_lines_are_exceptions_at_upload_not_discrepancies(recon) -> None:
    tag = uuid.uuid4().hex[:6]
    day = "2031-09-06"
    one = txn(1, tag)
    content = wechat_bill([one, txn(2, tag), one])
    loaded = await recon.upload("wechatpay", content, statement_date=day)
    assert loaded.status_code == 201, loaded.text
    statement_id = loaded.json()["statement_id"]
    listed = await exceptions(recon, statement_id=statement_id)
    assert [(e["code"], e["line_no"]) for e in listed] == [("duplicate_line", 4)]
    run = await recon.run("wechatpay", day)
    assert run["counts"]["channel_only"] == 2  # the duplicate is not reconciled again


async def test_same_ids_and_amount_at_another_time_are_no_duplicate(recon) -> None:
    tag = uuid.uuid4().hex[:6]
    one = txn(1, tag)
    later = Txn(
        out_trade_no=one.out_trade_no,
        channel_txn_id=one.channel_txn_id,
        amount_fen=one.amount_fen,
        at=one.at + timedelta(seconds=1),
    )
    content = wechat_bill([one, later, one, one])
    loaded = await recon.upload("wechatpay", content, statement_date="2031-09-07")
    assert loaded.status_code == 201, loaded.text
    listed = await exceptions(recon, statement_id=loaded.json()["statement_id"])
    assert sorted((e["line_no"], e["message"]) for e in listed) == [
        (4, "the same line as line 2"),
        (5, "the same line as line 2"),
    ]
