"""The channel registry: every catalogue code has exactly one spec, in catalogue order, and a
spec list that does not fit the catalogue refuses to build (never a registry with holes)."""

from __future__ import annotations

import dataclasses

import pytest

from otd_shared.channels import CATALOGUE, ChannelCode
from payment_gateway.adapters.channels.registry import REGISTRY, SPECS, load_registry


def test_the_registry_has_one_spec_per_catalogue_code_in_catalogue_order() -> None:
    assert REGISTRY.codes() == tuple(CATALOGUE)
    for code in CATALOGUE:
        assert REGISTRY.spec(code).facts == CATALOGUE[code]


def test_a_missing_spec_refuses_to_build() -> None:
    without_cash = [s for s in SPECS if s.code is not ChannelCode.CASH]
    with pytest.raises(ImportError, match="no ChannelSpec for cash"):
        load_registry(without_cash)


def test_a_duplicate_spec_refuses_to_build() -> None:
    with pytest.raises(ImportError, match="two ChannelSpecs declare wechatpay"):
        load_registry([*SPECS, REGISTRY.spec(ChannelCode.WECHATPAY)])


def test_a_spec_whose_facts_differ_from_the_catalogue_refuses_to_build() -> None:
    alipay = REGISTRY.spec(ChannelCode.ALIPAY)
    changed = dataclasses.replace(alipay, facts=dataclasses.replace(alipay.facts, statement=False))
    others = [s for s in SPECS if s.code is not ChannelCode.ALIPAY]
    with pytest.raises(ImportError, match="facts differ"):
        load_registry([*others, changed])


def test_a_spec_outside_the_catalogue_refuses_to_build() -> None:
    catalogue = {code: facts for code, facts in CATALOGUE.items() if code is not ChannelCode.LOAN}
    with pytest.raises(ImportError, match="no such code"):
        load_registry(SPECS, catalogue)  # type: ignore[arg-type]
