"""Every recon path and query that names a source refuses channels without statements (the
lender's ``loan``, the marketing budget's ``discount``) with 422 ``unknown_source``, exactly
like a name no channel has, and stores nothing; statement sources still answer."""

from __future__ import annotations

import pytest

from otd_shared.channels import CATALOGUE
from recon_service.domain.statement import sources_in_processing_order

pytestmark = pytest.mark.integration

DAY = "2031-07-02"
QUERIES = ("/v1/statements", "/v1/recon-runs", "/v1/discrepancies", "/v1/recon-figures",
           "/v1/settlements")  # fmt: skip
WITHOUT_STATEMENTS = sorted(str(code) for code, facts in CATALOGUE.items() if not facts.statement)


def test_the_catalogue_has_channels_without_statements() -> None:
    assert {"loan", "discount"} <= set(WITHOUT_STATEMENTS)
    assert not set(WITHOUT_STATEMENTS) & {str(s) for s in sources_in_processing_order()}


@pytest.mark.parametrize("source", [*WITHOUT_STATEMENTS, "paypal"])
async def test_paths_and_queries_refuse_a_channel_without_statements(recon, source) -> None:
    before = await recon.scalar("SELECT count(*) FROM recon.statements")
    answers = {
        "upload": await recon.upload(source, b"anything", statement_date=DAY),
        "run": await recon.http.post(
            "/v1/recon-runs", json={"source": source, "date": DAY}, headers=recon.auth()
        ),
        "close": await recon.http.post(
            f"/v1/recon-days/{source}/{DAY}/close", headers=recon.auth()
        ),
        "reopen": await recon.http.post(
            f"/v1/recon-days/{source}/{DAY}/reopen",
            json={"reason": "a check"},
            headers=recon.auth("finance-approver"),
        ),
    }
    for path in QUERIES:
        answers[path] = await recon.http.get(path, params={"source": source}, headers=recon.auth())

    for name, response in answers.items():
        assert response.status_code == 422, (name, response.text)
        assert response.json()["code"] == "unknown_source", (name, response.text)
        assert "wechatpay" in response.text, name
    assert await recon.scalar("SELECT count(*) FROM recon.statements") == before
    assert (
        await recon.scalar("SELECT count(*) FROM recon.day_closures WHERE source = :s", s=source)
        == 0
    )


async def test_statement_sources_still_answer(recon) -> None:
    for path in QUERIES:
        response = await recon.http.get(path, params={"source": "cash"}, headers=recon.auth())
        assert response.status_code == 200, (path, response.text)
    closed = await recon.http.post(f"/v1/recon-days/cash/{DAY}/close", headers=recon.auth())
    assert closed.status_code in (200, 201), closed.text
