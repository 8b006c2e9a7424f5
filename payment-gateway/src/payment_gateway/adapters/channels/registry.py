"""The channel registry: one `ChannelSpec` per `ChannelCode`, from its package's ``spec.py``.

    spec = REGISTRY.spec(ChannelCode.ALIPAY)
    channel = build_channel_protocol(ChannelCode.ALIPAY, load_key_set(keys_dir, "alipay"))
    verified = channel.verify_notification(request.headers, raw_body, now_s=int(time.time()))

Every code of the shared catalogue (`otd_shared.channels`) has a package ``channels/<name>/``
whose ``spec.py`` declares its ``SPEC``; the packages are found by listing this package (no
module or class is looked up from a channel code), so a new channel is its package and no
line here. Building the registry checks that every catalogue code has exactly one spec whose
facts are its catalogue line, and raises otherwise (never a silent None; tests/channels checks
every code). Everything channel-shaped derives from the registry.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

from otd_shared.channels import CATALOGUE, Catalogue, ChannelCode
from payment_gateway.adapters import channels as channels_package
from payment_gateway.adapters.channels.client_base import ChannelClient, ChannelHttp, ClientOptions
from payment_gateway.adapters.channels.contract import ChannelProtocol, NotificationLimits
from payment_gateway.adapters.channels.key_files import ChannelKeySet, load_keys
from payment_gateway.adapters.channels.spec import ChannelSpec
from payment_gateway.errors import ChannelKeyError


def discover_specs() -> tuple[ChannelSpec, ...]:
    """The ``SPEC`` of every channel package beside this module (``channels/<name>/spec.py``).

    Packages are found by listing this package, never by building a name from a channel code;
    a package without a ``spec.py`` exporting a ChannelSpec ``SPEC`` raises ImportError."""
    specs: list[ChannelSpec] = []
    for found in sorted(pkgutil.iter_modules(channels_package.__path__), key=lambda m: m.name):
        if not found.ispkg:
            continue
        module = importlib.import_module(f"{channels_package.__name__}.{found.name}.spec")
        spec = getattr(module, "SPEC", None)
        if not isinstance(spec, ChannelSpec):
            raise ImportError(f"{module.__name__} must export SPEC, a ChannelSpec")
        specs.append(spec)
    return tuple(specs)


SPECS: Final = discover_specs()
"""Every channel package's spec (the registry orders them as the catalogue does)."""


@dataclass(frozen=True)
class ChannelRegistry:
    """The specs, in catalogue order (the order listings and routing advice use)."""

    specs: Mapping[ChannelCode, ChannelSpec]

    def __iter__(self) -> Iterator[ChannelSpec]:
        return iter(self.specs.values())

    def spec(self, code: ChannelCode) -> ChannelSpec:
        """The spec of `code`; ChannelKeyError for a code no package declares."""
        spec = self.specs.get(code)
        if spec is None:
            raise ChannelKeyError(f"unknown channel code {code!r}")
        return spec

    def codes(self) -> tuple[ChannelCode, ...]:
        """Every code, in catalogue order."""
        return tuple(self.specs)

    def keyed(self) -> tuple[ChannelSpec, ...]:
        """Channels with keys under ``var/keys/<code>/`` (the five with protocols)."""
        return tuple(spec for spec in self if spec.keys is not None)

    def online(self) -> tuple[ChannelCode, ...]:
        """Online channels (app, QR, web)."""
        return tuple(spec.code for spec in self if spec.online)

    def offline(self) -> tuple[ChannelCode, ...]:
        """Offline channels that a billing may be paid with (POS, cash, wire)."""
        return tuple(spec.code for spec in self if not spec.online and spec.offline_label)

    def startable(self) -> tuple[ChannelCode, ...]:
        """Channels that ``POST /v1/payments`` starts."""
        return tuple(spec.code for spec in self if spec.startable)

    def methods(self) -> Mapping[ChannelCode, tuple[str, ...]]:
        """Code → its methods (the first is the default)."""
        return MappingProxyType({spec.code: spec.methods for spec in self})

    def with_spec(self, spec: ChannelSpec) -> ChannelRegistry:
        """This registry plus (or with a replaced) `spec` (tests of derived lists)."""
        return ChannelRegistry(MappingProxyType({**self.specs, spec.code: spec}))

    def catalogue(self) -> Catalogue:
        """The neutral facts of these channels (what the other services derive from)."""
        return MappingProxyType({spec.code: spec.facts for spec in self})


def load_registry(
    specs: Iterable[ChannelSpec] = SPECS, catalogue: Catalogue = CATALOGUE
) -> ChannelRegistry:
    """The registry of `specs`, in catalogue order; ImportError unless every catalogue code
    has exactly one spec, no spec is of a code outside it, and each spec's facts are its
    catalogue line."""
    by_code: dict[ChannelCode, ChannelSpec] = {}
    for spec in specs:
        if spec.code in by_code:
            raise ImportError(f"two ChannelSpecs declare {spec.code}")
        if spec.code not in catalogue:
            raise ImportError(f"ChannelSpec of {spec.code}: no such code in the catalogue")
        if spec.facts != catalogue[spec.code]:
            raise ImportError(f"ChannelSpec of {spec.code}: facts differ from the catalogue")
        by_code[spec.code] = spec
    missing = [code for code in catalogue if code not in by_code]
    if missing:
        raise ImportError(f"no ChannelSpec for {', '.join(missing)} (add it to SPECS)")
    return ChannelRegistry(MappingProxyType({code: by_code[code] for code in catalogue}))


REGISTRY: Final = load_registry()


def load_key_set_of(spec: ChannelSpec, keys_dir: Path) -> ChannelKeySet:
    """Load the keys of a keyed channel (ChannelKeyError for a keyless one)."""
    if spec.keys is None:
        raise ChannelKeyError(f"{spec.code} has no keys")
    return load_keys(keys_dir, spec.code, spec.keys)


def build_channel_protocol(
    channel: ChannelCode,
    keys: ChannelKeySet,
    limits: NotificationLimits | None = None,
    registry: ChannelRegistry = REGISTRY,
) -> ChannelProtocol:
    """The ChannelProtocol of `channel`; ChannelKeyError for unknown codes or foreign keys."""
    spec = registry.spec(channel)
    if spec.protocol is None:
        raise ChannelKeyError(f"{spec.code} receives no notifications")
    if keys.channel != spec.code:
        raise ChannelKeyError(f"key set of {keys.channel!r} given for {channel!r}")
    return spec.protocol(keys, limits or NotificationLimits())


def build_channel_client(
    channel: ChannelCode,
    keys: ChannelKeySet,
    http: ChannelHttp,
    options: ClientOptions,
    registry: ChannelRegistry = REGISTRY,
) -> ChannelClient:
    """The client of ``channel``; ChannelKeyError for unknown codes or foreign keys."""
    spec = registry.spec(channel)
    if spec.client is None:
        raise ChannelKeyError(f"{spec.code} has no client")
    if keys.channel != spec.code:
        raise ChannelKeyError(f"key set of {keys.channel!r} given for {channel!r}")
    return spec.client(keys, http, options)


def load_channel_protocol(
    keys_dir: Path, channel: ChannelCode, limits: NotificationLimits | None = None
) -> ChannelProtocol:
    """Load `keys_dir/<channel>/` and build its ChannelProtocol."""
    spec = REGISTRY.spec(channel)
    return build_channel_protocol(spec.code, load_key_set_of(spec, keys_dir), limits)
