"""SAP accounting documents: grouping, mapping, stable references."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger_service.domain.accounts import Side
from ledger_service.domain.errors import SapExportError, UnmappedAccount
from ledger_service.domain.journal import Journal, JournalDraft, Leg
from ledger_service.domain.sap import (
    DEV_SAP_MAPPING,
    SAP_REFERENCE_CHARS,
    CompanyRule,
    GlRule,
    SapLine,
    SapMapping,
    company_code_for,
    document_reference,
    gl_account_for,
    sap_documents,
)

D1, D2 = date(2024, 5, 1), date(2024, 5, 2)


def journal(source_id: str, day: date, *legs: Leg) -> Journal:
    return Journal.posted(
        JournalDraft(source_id=source_id, business_date=day, description="", legs=legs)
    )


def pay(source_id: str, order: str, fen: int, day: date = D1) -> Journal:
    return journal(
        source_id, day, Leg.debit("clearing:wechatpay", fen), Leg.credit(f"deposits:{order}", fen)
    )


def test_gl_mapping_uses_longest_whole_segment_prefix() -> None:
    mapping = SapMapping(
        "1000",
        (
            GlRule("clearing", "1012000000"),
            GlRule("clearing:wechatpay", "1012010000"),
            GlRule("deposits:", "2203000000"),
        ),
    )
    assert gl_account_for("clearing:alipay", mapping) == "1012000000"
    assert gl_account_for("clearing:wechatpay", mapping) == "1012010000"
    assert gl_account_for("deposits:ORD-1", mapping) == "2203000000"
    assert gl_account_for("deposits", mapping) == "2203000000"
    with pytest.raises(UnmappedAccount, match="deposits_old") as caught:
        gl_account_for("deposits_old", mapping)
    assert caught.value.http_status == 422


def test_dev_mapping_covers_the_default_chart() -> None:
    for code in [
        "clearing:lakala",
        "bank:ICBC-001",
        "cash:S1",
        "deposits:ORD-1",
        "loan_receivable",
        "revenue",
        "fees:unionpay",
        "suspense",
        "refunds_payable",
        "recon_differences",
    ]:
        assert gl_account_for(code, DEV_SAP_MAPPING)


def test_one_balanced_document_per_day_with_lines_summed_per_gl_and_side() -> None:
    journals = [pay("a", "ORD-1", 100), pay("b", "ORD-2", 250), pay("c", "ORD-3", 7, D2)]
    first, second = sap_documents(journals, DEV_SAP_MAPPING)
    assert (first.posting_date, first.company_code, first.currency) == (D1, "1000", "CNY")
    assert first.lines == (
        SapLine("1012000000", Side.DEBIT, 350),
        SapLine("2203000000", Side.CREDIT, 350),
    )
    assert [line.posting_key for line in first.lines] == ["40", "50"]
    assert first.total_debit_fen == first.total_credit_fen == 350
    assert first.journal_ids == tuple(sorted([journals[0].journal_id, journals[1].journal_id]))
    assert second.posting_date == D2
    assert second.journal_ids == (journals[2].journal_id,)


def test_reference_is_stable_and_sap_sized() -> None:
    journals = [pay("a", "ORD-1", 100), pay("b", "ORD-2", 250)]
    (doc,) = sap_documents(journals, DEV_SAP_MAPPING)
    (again,) = sap_documents([*reversed(journals), journals[0]], DEV_SAP_MAPPING)
    assert doc == again
    assert len(doc.reference) == SAP_REFERENCE_CHARS
    assert doc.reference == document_reference("1000", D1, "CNY", reversed(doc.journal_ids))
    (fewer,) = sap_documents(journals[:1], DEV_SAP_MAPPING)
    assert fewer.reference != doc.reference
    assert document_reference("1001", D1, "CNY", doc.journal_ids) != doc.reference


def test_unmapped_account_fails_the_export() -> None:
    odd = journal("x", D1, Leg.debit("goodwill", 1), Leg.credit("revenue", 1))
    with pytest.raises(UnmappedAccount, match="goodwill"):
        sap_documents([odd], DEV_SAP_MAPPING)


def test_company_rules_split_documents_and_reject_mixed_journals() -> None:
    mapping = SapMapping(
        "1000", DEV_SAP_MAPPING.gl_rules, (CompanyRule("cash:store-SH01", "2000"),)
    )
    shanghai = journal("sh", D1, Leg.debit("cash:store-SH01", 5), Leg.credit("deposits:O", 5))
    docs = sap_documents([shanghai, pay("a", "O", 1)], mapping)
    assert [(d.company_code, d.journal_ids) for d in docs] == [
        ("1000", (pay("a", "O", 1).journal_id,)),
        ("2000", (shanghai.journal_id,)),
    ]
    assert company_code_for(shanghai, mapping) == "2000"
    two = SapMapping(
        "1000", DEV_SAP_MAPPING.gl_rules, (*mapping.company_rules, CompanyRule("deposits", "3000"))
    )
    with pytest.raises(SapExportError, match="spans company codes"):
        sap_documents([shanghai], two)


def test_multi_currency_journal_splits_per_currency_each_balanced() -> None:
    mixed = journal(
        "fx",
        D1,
        Leg.debit("bank:B", 700, "CNY"),
        Leg.credit("revenue", 700, "CNY"),
        Leg.debit("bank:B", 100, "USD"),
        Leg.credit("revenue", 100, "USD"),
    )
    docs = sap_documents([mixed], DEV_SAP_MAPPING)
    assert [(d.currency, d.total_debit_fen, d.total_credit_fen) for d in docs] == [
        ("CNY", 700, 700),
        ("USD", 100, 100),
    ]
    assert docs[0].reference != docs[1].reference


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 10**9)), min_size=1, max_size=30))
def test_every_document_balances_and_references_are_unique(
    payments: list[tuple[int, int]],
) -> None:
    journals = [
        pay(f"s{i}", f"ORD-{order}", fen, date(2024, 5, 1 + order % 3))
        for i, (order, fen) in enumerate(payments)
    ]
    docs = sap_documents(journals, DEV_SAP_MAPPING)
    assert all(d.total_debit_fen == d.total_credit_fen for d in docs)
    assert len({d.reference for d in docs}) == len(docs)
    assert sorted(j for d in docs for j in d.journal_ids) == sorted(j.journal_id for j in journals)
