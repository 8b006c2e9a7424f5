"""The SAP endpoint: one booking per reference, configurable rejections."""

from __future__ import annotations

import uuid

import httpx


async def test_resent_reference_returns_the_same_document_number(http: httpx.AsyncClient) -> None:
    reference = f"JRN-{uuid.uuid4().hex}"
    document = {"reference": reference, "lines": [{"account": "1001", "debit_fen": 100}]}
    first = await http.post("/sap/documents", json=document)
    second = await http.post("/sap/documents", json=document)
    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == "acknowledged"
    assert first.json()["sap_document_no"] == second.json()["sap_document_no"]
    assert second.json()["duplicate"] is True
    booked = [
        d
        for d in (await http.get("/sap/documents")).json()["documents"]
        if d["reference"] == reference
    ]
    assert len(booked) == 1
    assert booked[0]["received_count"] == 2


async def test_reject_next_then_the_resend_is_booked(http: httpx.AsyncClient) -> None:
    queued = await http.post("/sandbox/sap/reject-next", json={"reason": "period closed"})
    assert queued.status_code == 202
    reference = f"JRN-{uuid.uuid4().hex}"
    rejected = await http.post("/sap/documents", json={"reference": reference})
    assert (rejected.status_code, rejected.json()["reason"]) == (422, "period closed")
    booked = await http.post("/sap/documents", json={"reference": reference})
    assert booked.status_code == 200
    assert booked.json()["duplicate"] is False


async def test_prefix_rules_from_settings_and_at_runtime(http: httpx.AsyncClient) -> None:
    from_settings = await http.post("/sap/documents", json={"reference": "BAD-1"})
    assert (from_settings.status_code, from_settings.json()["reason"]) == (422, "account blocked")
    await http.post("/sandbox/sap/reject-prefix", json={"prefix": "ADJ-", "reason": "no approval"})
    assert (await http.post("/sap/documents", json={"reference": "ADJ-7"})).status_code == 422
    await http.post("/sandbox/sap/reject-prefix", json={"prefix": "ADJ-", "reason": None})
    assert (await http.post("/sap/documents", json={"reference": "ADJ-7"})).status_code == 200


async def test_a_document_without_reference_is_400(http: httpx.AsyncClient) -> None:
    assert (await http.post("/sap/documents", json={"lines": []})).status_code == 400
    assert (await http.post("/sap/documents", content=b"[1]")).status_code == 400
