"""SAP connectors: the document layout (JSON and CSV), the file drop and the HTTP answers."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from ledger_service.adapters.sap_connectors import (
    LAYOUT,
    FileDropConnector,
    HttpSapConnector,
    SapDeliveryError,
    SapOutcome,
    document_body,
    document_csv,
)
from ledger_service.adapters.sap_repo import SapDocumentRecord
from ledger_service.bootstrap import connector_factory
from ledger_service.config import LedgerSettings
from ledger_service.domain.accounts import Side
from ledger_service.domain.sap import DEV_SAP_MAPPING, SapLine

DOCUMENT = SapDocumentRecord(
    reference="0123456789ABCDEF",
    company_code="1000",
    posting_date=date(2024, 5, 1),
    currency="CNY",
    status="pending",
    lines=(
        SapLine("1012000000", Side.DEBIT, 12_345),
        SapLine("2203000000", Side.CREDIT, 12_345),
    ),
    journal_count=3,
    total_debit_fen=12_345,
    total_credit_fen=12_345,
    connector=None,
    attempts=0,
    reason=None,
    last_error=None,
    sap_document_number=None,
    created_at=datetime(2024, 5, 2, tzinfo=UTC),
    sent_at=None,
    acknowledged_at=None,
    rejected_at=None,
)


def test_json_layout() -> None:
    body = document_body(DOCUMENT)
    assert body["layout"] == LAYOUT
    assert (body["reference"], body["posting_date"], body["document_type"]) == (
        "0123456789ABCDEF",
        "2024-05-01",
        "SA",
    )
    assert body["lines"] == [
        {"line_no": 1, "posting_key": "40", "gl_account": "1012000000", "side": "debit",
         "amount_fen": 12_345, "amount": "123.45"},
        {"line_no": 2, "posting_key": "50", "gl_account": "2203000000", "side": "credit",
         "amount_fen": 12_345, "amount": "123.45"},
    ]  # fmt: skip


def test_csv_layout() -> None:
    rows = list(csv.DictReader(io.StringIO(document_csv(DOCUMENT))))
    assert [(r["line_no"], r["posting_key"], r["gl_account"], r["amount"]) for r in rows] == [
        ("1", "40", "1012000000", "123.45"),
        ("2", "50", "2203000000", "123.45"),
    ]
    assert {r["reference"] for r in rows} == {"0123456789ABCDEF"}


@pytest.mark.parametrize("file_format", ["json", "csv"])
async def test_file_drop_writes_one_file_per_document_and_reads_answers(
    tmp_path: Path, file_format: str
) -> None:
    drop = FileDropConnector(tmp_path, file_format)  # type: ignore[arg-type]
    assert await drop.send(DOCUMENT) == SapOutcome("sent")
    assert await drop.send(DOCUMENT) == SapOutcome("sent")  # a re-send replaces the file
    files = sorted(p.name for p in (tmp_path / "2024-05-01").iterdir())
    assert files == [f"1000_0123456789ABCDEF.{file_format}"]
    assert await drop.poll(DOCUMENT.reference) is None
    (tmp_path / "acks").mkdir()
    answer = tmp_path / "acks" / f"{DOCUMENT.reference}.json"
    answer.write_text(json.dumps({"status": "rejected", "reason": "period closed"}))
    assert await drop.poll(DOCUMENT.reference) == SapOutcome("rejected", None, "period closed")
    answer.write_text("not json")
    with pytest.raises(SapDeliveryError):
        await drop.poll(DOCUMENT.reference)


def sap(handler: httpx.MockTransport) -> HttpSapConnector:
    return HttpSapConnector("http://sap/sap", token="t", timeout_ms=1000, transport=handler)


async def test_http_answers_map_to_outcomes() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        reference = json.loads(request.content)["reference"] if request.content else ""
        match request.url.path, reference:
            case "/sap/documents", "0123456789ABCDEF":
                return httpx.Response(200, json={"status": "acknowledged", "sap_document_no": "51"})
            case _:
                return httpx.Response(404)

    connector = sap(httpx.MockTransport(answer))
    assert await connector.send(DOCUMENT) == SapOutcome("acknowledged", "51", None)
    assert seen[0].headers["Idempotency-Key"] == DOCUMENT.reference
    assert seen[0].headers["Authorization"] == "Bearer t"
    assert await connector.poll("NOPE") is None
    await connector.aclose()


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (409, {}, SapOutcome("acknowledged", None, "duplicate reference")),
        (422, {"status": "rejected", "reason": "blocked"}, SapOutcome("rejected", None, "blocked")),
        (400, {"status": "error", "reason": "no ref"}, SapOutcome("rejected", None, "no ref")),
        (202, {"status": "received"}, SapOutcome("sent")),
    ],
)
async def test_http_status_codes(status: int, body: dict[str, str], expected: SapOutcome) -> None:
    connector = sap(httpx.MockTransport(lambda _: httpx.Response(status, json=body)))
    assert await connector.send(DOCUMENT) == expected


@pytest.mark.parametrize("status", [500, 503, 302])
async def test_http_failures_are_delivery_errors(status: int) -> None:
    connector = sap(httpx.MockTransport(lambda _: httpx.Response(status)))
    with pytest.raises(SapDeliveryError, match=str(status)):
        await connector.send(DOCUMENT)


async def test_http_unreachable_is_a_delivery_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(SapDeliveryError, match="unreachable"):
        await sap(httpx.MockTransport(refuse)).send(DOCUMENT)


def test_settings_choose_the_connector_and_parse_the_mapping(tmp_path: Path) -> None:
    assert LedgerSettings().sap_mapping() == DEV_SAP_MAPPING
    mapping = LedgerSettings(
        sap_mapping_json=json.dumps(
            {
                "default_company_code": "2000",
                "gl_rules": [{"prefix": "bank", "gl_account": "1002"}],
                "company_rules": [{"prefix": "bank:HK", "company_code": "3000"}],
            }
        )
    ).sap_mapping()
    assert (mapping.default_company_code, mapping.gl_rules[0].gl_account) == ("2000", "1002")
    assert mapping.company_rules[0].company_code == "3000"
    with pytest.raises(ValueError, match="SAP_HTTP_URL"):
        connector_factory(LedgerSettings(sap_connector="http"))
    drop = connector_factory(LedgerSettings(sap_outbox_dir=tmp_path))()
    assert isinstance(drop, FileDropConnector)
    http = connector_factory(LedgerSettings(sap_connector="http", sap_http_url="http://x"))()
    assert isinstance(http, HttpSapConnector)
    settings = LedgerSettings(settlement_bank_accounts={"alipay": "CMB"})
    assert settings.settlement_bank_account("alipay") == "CMB"
    assert settings.settlement_bank_account("wechatpay") == "MAIN"
