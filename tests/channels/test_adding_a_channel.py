"""Adding a channel is one catalogue line, its gateway package, its sandbox package and its
test vectors (docs/adding-a-channel.md).

A throwaway channel ``paypal`` is registered (catalogue facts + a ChannelSpec, as its package
would declare them) and every list derived from the registry must pick it up: routing, the
settings it takes and their startup validation, dev keys, the ledger's clearing and fee
accounts, recon's sources and CHECK constraint, the Kubernetes key-mount check. Nothing else
is edited. The real registry is checked against the same derivations, so a derived list that
stopped deriving would fail here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import cast

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from channel_sandbox.registry import REGISTRY as SANDBOX
from ledger_service.adapters.reference_data import open_catalogue_accounts
from ledger_service.domain.chart import catalogue_accounts
from otd_shared.channels import CATALOGUE, ChannelCode, ChannelFacts, ChannelKind
from otd_shared.db import asyncpg_url
from otd_shared.migrations import upgrade_head
from payment_gateway.adapters.channels.key_files import KeySpec
from payment_gateway.adapters.channels.keys import expected_key_mounts, generate_dev_keys
from payment_gateway.adapters.channels.pos_client import PosOrderQrClient
from payment_gateway.adapters.channels.registry import REGISTRY, ChannelRegistry
from payment_gateway.adapters.channels.spec import ChannelSpec
from payment_gateway.bootstrap import channel_config_problems, routing_rules
from payment_gateway.config import ChannelEnvSource, GatewaySettings, channel_env_names
from payment_gateway.domain.routing import RoutingPolicy
from payment_gateway.errors import RouteRefused
from recon_service.adapters.reference_data import (
    SOURCE_CHECK_NAME,
    source_check_sql,
    sync_source_check,
)
from recon_service.domain.statement import sources_in_processing_order

REPO_ROOT = Path(__file__).resolve().parents[2]
KEY_MOUNTS_PATCH = REPO_ROOT / "deploy" / "k8s" / "base" / "payment-gateway" / "channel-keys.yaml"


class _Throwaway(StrEnum):
    PAYPAL = "paypal"


PAYPAL = cast(ChannelCode, _Throwaway.PAYPAL)
PAYPAL_FACTS = ChannelFacts(code=PAYPAL, kind=ChannelKind.ONLINE, clearing=True, statement=True)
PAYPAL_SPEC = ChannelSpec(
    facts=PAYPAL_FACTS,
    methods=("wallet", "card"),
    startable=True,
    online_limit_fen=1_000_000,
    keys=KeySpec(required_ids=("merchant_id",), new_dev_ids=lambda: {"merchant_id": "PP-DEV-1"}),
    client=PosOrderQrClient,
    calls_api=True,
)


@pytest.fixture
def registry() -> ChannelRegistry:
    return REGISTRY.with_spec(PAYPAL_SPEC)


def test_routing_tables_take_the_new_channel(registry: ChannelRegistry) -> None:
    settings = GatewaySettings(stage_channels={"intent": ["wechatpay", "paypal:wallet"]})
    rules = routing_rules(settings, registry)
    assert rules.channels[PAYPAL].methods == ("wallet", "card")
    assert PAYPAL in rules.enabled_channels
    policy = RoutingPolicy(rules)
    route = policy.route(stage="intent", channel=PAYPAL, method=None, amount_fen=1_000)
    assert (route.channel, route.method, route.online) == (PAYPAL, "wallet", True)
    assert policy.stage_channels("intent") == (ChannelCode.WECHATPAY, PAYPAL)
    with pytest.raises(RouteRefused) as over:  # the spec's own single-payment limit
        policy.route(stage="intent", channel=PAYPAL, method="wallet", amount_fen=1_000_001)
    assert over.value.reason == "over_online_limit"
    with pytest.raises(RouteRefused) as card:  # only the entries the stage lists
        policy.route(stage="intent", channel=PAYPAL, method="card", amount_fen=1_000)
    assert card.value.reason == "stage_not_allowed"
    with pytest.raises(ValueError, match="paypal:wallet"):  # the real registry has no paypal
        routing_rules(settings)


def test_settings_of_the_new_channel_are_read_and_validated(
    registry: ChannelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = channel_env_names(registry)
    assert names["PAYPAL_ENABLED"] == (PAYPAL, "enabled")
    assert names["PAYPAL_BASE_URL"] == (PAYPAL, "base_url")
    assert "CASH_BASE_URL" not in names  # cash calls no API
    monkeypatch.setenv("PAYPAL_BASE_URL", "https://api.paypal.example")
    read = ChannelEnvSource(GatewaySettings, registry)()
    assert read["channels"]["paypal"] == {"base_url": "https://api.paypal.example"}

    generate_dev_keys(tmp_path, REGISTRY)  # every real channel has keys, paypal none yet
    settings = GatewaySettings(keys_dir=tmp_path)
    assert channel_config_problems(settings) == []
    problems = channel_config_problems(settings, registry)
    assert len(problems) == 1
    assert problems[0].startswith("paypal is enabled but its keys are not usable")
    assert "PAYPAL_ENABLED=false" in problems[0]

    generate_dev_keys(tmp_path, registry)  # the launcher's dev keys pick it up
    assert json.loads((tmp_path / "paypal" / "ids.json").read_text()) == {"merchant_id": "PP-DEV-1"}
    assert channel_config_problems(settings, registry) == []


def test_ledger_opens_clearing_and_fee_accounts_for_it(registry: ChannelRegistry) -> None:
    codes = {account.code for account in catalogue_accounts(registry.catalogue())}
    assert {"clearing:paypal", "fees:paypal"} <= codes
    real = {account.code for account in catalogue_accounts()}
    assert real == {f"{family}:{code}" for code in REGISTRY.codes() if CATALOGUE[code].clearing
                    for family in ("clearing", "fees")}  # fmt: skip
    assert PAYPAL_SPEC.ledger_accounts == ("clearing:paypal", "fees:paypal")


def test_recon_takes_it_as_a_statement_source(registry: ChannelRegistry) -> None:
    catalogue = registry.catalogue()
    assert sources_in_processing_order(catalogue)[-1] == PAYPAL
    assert "'paypal'" in source_check_sql(catalogue)
    assert "'paypal'" not in source_check_sql()
    assert "'loan'" not in source_check_sql()  # loans have no statement


def test_the_manifest_check_asks_for_its_key_mount(registry: ChannelRegistry) -> None:
    patch = yaml.safe_load(KEY_MOUNTS_PATCH.read_text())
    container = patch["spec"]["template"]["spec"]["containers"][0]
    keys_dir = next(e["value"] for e in container["env"] if e["name"] == "KEYS_DIR")
    volumes = {
        v["name"]: v["secret"]["secretName"] for v in patch["spec"]["template"]["spec"]["volumes"]
    }
    mounted = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert mounted == expected_key_mounts(keys_dir)  # today's manifests match the registry
    missing = set(expected_key_mounts(keys_dir, registry)) - set(mounted)
    assert missing == {f"{keys_dir}/paypal"}  # ...and would demand the new channel's Secret


def test_every_code_has_a_package_whose_spec_matches_the_catalogue() -> None:
    assert REGISTRY.codes() == tuple(ChannelCode)
    for spec in REGISTRY:
        assert spec.facts == CATALOGUE[spec.code]
        assert spec.default_method == spec.methods[0]
    offline = {ChannelCode.CASH, ChannelCode.WIRE, ChannelCode.LOAN, ChannelCode.DISCOUNT}
    assert {spec.code for spec in REGISTRY if spec.keys is None} == offline
    assert set(REGISTRY.startable()) == set(ChannelCode) - offline


async def test_migrate_opens_its_accounts_and_widens_the_source_check(
    new_database: Callable[[], Awaitable[str]], registry: ChannelRegistry
) -> None:
    """On real PostgreSQL: after the revisions, ``migrate``'s hooks bring the ledger accounts
    and recon's CHECK constraint in line with the catalogue, idempotently."""
    url = await new_database()
    for service, schema in (("ledger-service", "ledger"), ("recon-service", "recon")):
        migrations = REPO_ROOT / service / "migrations"
        await asyncio.to_thread(upgrade_head, migrations, url, schema)
        await asyncio.to_thread(upgrade_head, migrations, url, schema)  # again: no change
    engine = create_async_engine(asyncpg_url(url))
    try:
        async with engine.begin() as conn:
            assert "'paypal'" not in await _source_check(conn)
            catalogue = registry.catalogue()
            await conn.run_sync(lambda sync: open_catalogue_accounts(sync, "ledger", catalogue))
            await conn.run_sync(lambda sync: sync_source_check(sync, "recon", catalogue))
            await conn.run_sync(lambda sync: sync_source_check(sync, "recon", catalogue))
            assert "'paypal'" in await _source_check(conn)
            codes = await conn.scalars(
                sa.text("SELECT code FROM ledger.accounts WHERE owner = 'paypal' ORDER BY code")
            )
            assert list(codes) == ["clearing:paypal", "fees:paypal"]
    finally:
        await engine.dispose()


async def _source_check(conn: AsyncConnection) -> str:
    definition = await conn.scalar(
        sa.text("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = :name"),
        {"name": SOURCE_CHECK_NAME},
    )
    return str(definition)


def test_the_sandbox_plays_every_keyed_channel_in_the_same_key_layout() -> None:
    """Step 3 (its sandbox package): the sandbox's registry lists the keyed channels, and the
    ids it issues are the ones the gateway requires. Its own throwaway channel is checked in
    services/channel-sandbox/tests/test_sandbox_registry.py."""
    assert SANDBOX.codes() == tuple(spec.code for spec in REGISTRY.keyed())
    for spec in REGISTRY.keyed():
        assert spec.keys is not None
        layout = SANDBOX.channel(spec.code).key_layout
        assert set(spec.keys.required_ids) <= set(layout.issue_ids()), spec.code
        assert layout.apiv3_key == spec.keys.apiv3_key, spec.code
        assert layout.apiv2_key == spec.keys.apiv2_key, spec.code
