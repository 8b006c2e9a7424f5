"""Channel keys by channel code: every keyed channel of the registry (see `key_files` for the
layout of one channel, docs/channel-formats.md "Keys").

    generate_dev_keys(repo_root / "var" / "keys")          # the launcher, tests
    keys = load_key_set(repo_root / "var" / "keys", ChannelCode.ALIPAY)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode
from otd_shared.keyfiles import (
    APIV3_KEY_FILE,
    CHANNEL_PRIVATE_PEM,
    CHANNEL_PUBLIC_PEM,
    IDS_FILE,
    MERCHANT_PRIVATE_PEM,
    MERCHANT_PUBLIC_PEM,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet, generate_keys
from payment_gateway.adapters.channels.registry import REGISTRY, ChannelRegistry, load_key_set_of

# The channels with keys, in catalogue order, and the ids each must have in ids.json.
CHANNEL_CODES: Final = tuple(spec.code for spec in REGISTRY.keyed())
REQUIRED_IDS: Final[Mapping[ChannelCode, tuple[str, ...]]] = MappingProxyType(
    {spec.code: spec.keys.required_ids for spec in REGISTRY.keyed() if spec.keys is not None}
)


def load_key_set(keys_dir: Path, channel: ChannelCode) -> ChannelKeySet:
    """Load `keys_dir/<channel>/`; ChannelKeyError naming the file (or code) that is wrong."""
    return load_key_set_of(REGISTRY.spec(channel), keys_dir)


def generate_dev_keys(keys_dir: Path, registry: ChannelRegistry = REGISTRY) -> None:
    """Create the dev key layout of every keyed channel, keeping whatever already exists."""
    for spec in registry.keyed():
        assert spec.keys is not None
        generate_keys(keys_dir, spec.code, spec.keys)


def key_secret_name(channel: ChannelCode) -> str:
    """The Kubernetes Secret holding one channel's key files (deploy/k8s, one per channel)."""
    return f"payment-gateway-keys-{channel}"


def expected_key_mounts(keys_dir: str, registry: ChannelRegistry = REGISTRY) -> dict[str, str]:
    """mountPath → Secret name the gateway's pods must have: ``<KEYS_DIR>/<code>`` for every
    keyed channel (tests/deploy checks the manifests against it)."""
    base = keys_dir.rstrip("/")
    return {f"{base}/{spec.code}": key_secret_name(spec.code) for spec in registry.keyed()}


def new_dev_ids(channel: ChannelCode) -> dict[str, str]:
    """Fresh random identifiers in the channel's usual shape (dev only)."""
    spec = REGISTRY.spec(channel)
    if spec.keys is None:
        return {}
    return spec.keys.new_dev_ids()


__all__ = [
    "APIV3_KEY_FILE",
    "CHANNEL_CODES",
    "CHANNEL_PRIVATE_PEM",
    "CHANNEL_PUBLIC_PEM",
    "IDS_FILE",
    "MERCHANT_PRIVATE_PEM",
    "MERCHANT_PUBLIC_PEM",
    "REQUIRED_IDS",
    "ChannelKeySet",
    "expected_key_mounts",
    "generate_dev_keys",
    "key_secret_name",
    "load_key_set",
    "new_dev_ids",
]
