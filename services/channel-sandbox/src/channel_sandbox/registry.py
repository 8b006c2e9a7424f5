"""The sandbox's channel registry: one `SandboxChannel` per channel package, found by listing.

    channel = REGISTRY.channel("alipay")   # UnknownChannel for a code no package declares
    signed = channel.notification(keys, event, now_s=now_s)

Every package ``channels/<code>/`` declares its descriptor as ``CHANNEL`` in ``channel.py``;
the packages are found by listing `channel_sandbox.channels` (no module is looked up from a
channel code), so a new channel is its package and no line here. Loading checks that each
descriptor's code is its package's name and a code of the shared catalogue
(`otd_shared.channels`), and raises otherwise. Everything channel-shaped in the sandbox
derives from the registry: the key layout, the mounted routers, the control API's channels,
notification signing, retry schedules and success answers, statements and the test kit.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Sequence
from types import MappingProxyType
from typing import Final

from channel_sandbox import channels as channels_package
from channel_sandbox.spec import SandboxChannel, SandboxChannels
from otd_shared.channels import CATALOGUE

DESCRIPTOR_MODULE: Final = "channel"


def discover_channels() -> tuple[tuple[str, SandboxChannel], ...]:
    """(package name, its ``CHANNEL``) for every package under `channel_sandbox.channels`.

    A package without a ``channel.py`` exporting a SandboxChannel ``CHANNEL`` raises
    ImportError."""
    found: list[tuple[str, SandboxChannel]] = []
    for module in sorted(pkgutil.iter_modules(channels_package.__path__), key=lambda m: m.name):
        if not module.ispkg:
            continue
        name = f"{channels_package.__name__}.{module.name}.{DESCRIPTOR_MODULE}"
        channel = getattr(importlib.import_module(name), "CHANNEL", None)
        if not isinstance(channel, SandboxChannel):
            raise ImportError(f"{name} must export CHANNEL, a SandboxChannel")
        found.append((module.name, channel))
    return tuple(found)


def load_registry(
    discovered: Iterable[tuple[str, SandboxChannel]], catalogue: Sequence[str] = tuple(CATALOGUE)
) -> SandboxChannels:
    """The channels of `discovered`, in catalogue order; ImportError for a descriptor whose code
    is not its package's name or not in the catalogue, or for two of one code."""
    by_code: dict[str, SandboxChannel] = {}
    for package, channel in discovered:
        if channel.code != package:
            raise ImportError(f"channels/{package}/ declares the code {channel.code!r}")
        if channel.code not in catalogue:
            raise ImportError(f"sandbox channel {channel.code!r}: no such code in the catalogue")
        if channel.code in by_code:
            raise ImportError(f"two sandbox channels declare {channel.code!r}")
        by_code[channel.code] = channel
    ordered = {by_code[code].code: by_code[code] for code in catalogue if code in by_code}
    return SandboxChannels(MappingProxyType(ordered))


REGISTRY: Final = load_registry(discover_channels())
"""Every channel the sandbox plays."""
