"""Every request body of every service is strict where pydantic would coerce: a boolean is a
JSON boolean (``"yes"``, ``1`` and ``"true"`` are refused), a number is a JSON number.

The apps are built (no database is touched) and every route's body parameter's pydantic core
schema is walked: a ``bool``, ``int`` or ``float`` schema must be strict, by its own flag or
its model's config. A new lax field fails here with its service, route and field named.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from payment_gateway.adapters.channels.keys import generate_dev_keys

SERVICE_PACKAGES = (
    "order_service",
    "billing_service",
    "payment_gateway",
    "ledger_service",
    "recon_service",
)
COERCIBLE = frozenset({"bool", "int", "float"})


def lax_fields(schema: object, where: tuple[str, ...] = (), strict: bool = False) -> list[str]:
    """Dotted paths of the non-strict coercible schemas inside a pydantic core schema."""
    found: list[str] = []
    if isinstance(schema, list):
        for value in schema:
            found.extend(lax_fields(value, where, strict))
    if not isinstance(schema, dict):
        return found
    kind = schema.get("type")
    if kind == "model":
        strict = bool(schema.get("config", {}).get("strict", strict))
    if isinstance(kind, str) and kind in COERCIBLE and not (schema.get("strict") or strict):
        found.append(".".join(where) or "<root>")
    for key, value in schema.items():
        if key == "fields" and isinstance(value, dict):
            for name, field in value.items():
                found.extend(lax_fields(field, (*where, str(name)), strict))
        else:
            found.extend(lax_fields(value, where, strict))
    return found


@pytest.fixture
def service_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    generate_dev_keys(tmp_path / "keys")
    monkeypatch.setenv("KEYS_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/unused")
    monkeypatch.setenv("AUTH_TOKENS_JSON", json.dumps({"finance": "unused"}))


@pytest.mark.usefixtures("service_env")
@pytest.mark.parametrize("package", SERVICE_PACKAGES)
def test_request_bodies_are_strict(package: str) -> None:
    entry = importlib.import_module(f"{package}.bootstrap").ENTRY
    app = entry.create_app(entry.build_runtime(entry.load_settings()))
    lax: list[str] = []
    bodies = 0
    for route in app.routes:
        dependant = getattr(route, "dependant", None)
        for param in dependant.body_params if dependant else ():
            bodies += 1
            schema = TypeAdapter(param.field_info.annotation).core_schema
            lax.extend(f"{route.path} {field}" for field in lax_fields(schema))  # type: ignore[attr-defined]
    assert bodies > 0
    assert lax == [], f"{package}: lax request fields (use StrictBool / strict=True): {lax}"


def test_the_walker_finds_a_lax_boolean() -> None:
    from pydantic import BaseModel, StrictBool

    class Lax(BaseModel):
        on: bool
        fine: StrictBool

    assert lax_fields(TypeAdapter(Lax).core_schema) == ["on"]
