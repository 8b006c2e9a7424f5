"""Strict input rules (pure) and the middleware over ASGI on a small app."""

from __future__ import annotations

import json
import math

import httpx
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, StrictBool

from otd_shared.strict_input import (
    StrictInputError,
    install_strict_input,
    refuse_json_body,
    refuse_url_part,
    validation_error_body,
)


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount_fen": NaN}',
        b'{"amount_fen": Infinity}',
        b'{"amount_fen": -Infinity}',
        b'{"amount_fen": 1e400}',
        b'[1, {"a": [2, -1e999]}]',
        b'{"name": "a\\u0000b"}',
        b'{"name": "\\ud800"}',
        b'{"\\u0000key": 1}',
        b'{"list": ["ok", "\\udfff x"]}',
        '{"name": "x"}'.encode("utf-16"),
        '{"name": "x"}'.encode("utf-16-le"),
        '{"name": "x"}'.encode("utf-32"),
        b'\xef\xbb\xbf{"name": "x"}',
        b'{"name": "\xed\xa0\x80"}',
        b'{"name": "\xff"}',
    ],
)
def test_hostile_json_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(StrictInputError) as refused:
        refuse_json_body(body)
    assert refused.value.loc[0] == "body"


@pytest.mark.parametrize(
    "body", [b"", b'{"name": "\xe4\xb8\xad", "n": 1.5, "big": 12345678901234567890}', b"{bad"]
)
def test_ordinary_and_malformed_json_is_left_to_the_route(body: bytes) -> None:
    refuse_json_body(body)


def test_the_location_names_the_field() -> None:
    with pytest.raises(StrictInputError) as refused:
        refuse_json_body(b'{"lines": [{"memo": "ok"}, {"memo": "a\\u0000"}]}')
    assert refused.value.loc == ("body", "lines", 1, "memo")


@pytest.mark.parametrize("raw", [b"/v1/orders/a%00b", b"x=%00", b"x=%ED%A0%80", b"x=%FF"])
def test_hostile_url_parts_are_refused(raw: bytes) -> None:
    with pytest.raises(StrictInputError):
        refuse_url_part(raw, ("query",))


def test_validation_error_body_never_echoes_what_cannot_be_serialised() -> None:
    errors = [
        {"type": "t", "loc": ("body", "a"), "msg": "m", "input": math.nan},
        {"type": "t", "loc": ("body", "b"), "msg": "m", "input": "\ud800"},
        {"type": "t", "loc": ("body", "c"), "msg": "m", "input": b"\xff"},
        {"type": "t", "loc": ("body", "d"), "msg": "m", "input": 5, "ctx": {"error": ValueError()}},
    ]
    body = validation_error_body(errors)
    text = json.dumps(body, allow_nan=False, ensure_ascii=False).encode("utf-8")
    decoded = json.loads(text)
    assert [("input" in e) for e in decoded["detail"]] == [False, False, False, True]
    assert decoded["detail"][3]["ctx"] == {"error": ""}


class Flag(BaseModel):
    on: StrictBool
    ratio: float = 0.0
    name: str = ""


def _app() -> FastAPI:
    app = FastAPI()
    install_strict_input(app)

    @app.post("/flags/{flag_id}")
    async def post_flag(flag_id: str, body: Flag) -> dict[str, object]:
        return {"flag_id": flag_id, "on": body.on}

    @app.post("/lax")
    async def lax(body: dict[str, float]) -> dict[str, float]:
        echoed = {**body, "nan": math.nan, "nul": "\ud800"}
        raise RequestValidationError([{"type": "x", "loc": ("body",), "msg": "m", "input": echoed}])

    return app


@pytest.fixture
async def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app())
    return httpx.AsyncClient(transport=transport, base_url="http://strict")


async def test_middleware_refuses_and_passes(client: httpx.AsyncClient) -> None:
    async with client:
        ok = await client.post("/flags/f1", json={"on": True})
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"flag_id": "f1", "on": True}
        cases = [
            ("/flags/f1", b'{"on": true, "ratio": NaN}', "application/json"),
            ("/flags/f1", b'{"on": true, "ratio": 1e400}', "application/json"),
            ("/flags/f1", b'{"on": true, "name": "\\u0000"}', "application/json"),
            ("/flags/f1", '{"on": true}'.encode("utf-16"), "application/json"),
            ("/flags/f1", b'{"on": true}', "application/json; charset=utf-16"),
            ("/flags/f%00", b'{"on": true}', "application/json"),
            ("/flags/f1?q=%00", b'{"on": true}', "application/json"),
            ("/flags/f1", b'{"on": "yes"}', "application/json"),
            ("/flags/f1", b"on=%00", "application/x-www-form-urlencoded"),
        ]
        for path, body, content_type in cases:
            response = await client.post(path, content=body, headers={"content-type": content_type})
            assert response.status_code == 422, (path, body, response.text)
            detail = response.json()["detail"]
            assert isinstance(detail, list)
            assert {"loc", "msg", "type"} <= set(detail[0])


async def test_the_422_handler_survives_non_finite_input(client: httpx.AsyncClient) -> None:
    async with client:
        response = await client.post("/lax", json={"x": 1.0})
        assert response.status_code == 422
        assert response.json() == {"detail": [{"type": "x", "loc": ["body"], "msg": "m"}]}


@pytest.mark.integration
async def test_sql_parameters_never_reach_an_error_message(database_url: str) -> None:
    """A database error (here NUL in text, as PostgreSQL refuses it) names the statement but
    never its parameters, so logged tracebacks hold no customer data or secrets."""
    import sqlalchemy as sa
    from pydantic import SecretStr

    from otd_shared.db import create_engine
    from otd_shared.settings import ServiceSettings

    secret = "customer-secret-4242"
    engine = create_engine(ServiceSettings(database_url=SecretStr(database_url), db_pool_size=1))
    try:
        async with engine.connect() as conn:
            with pytest.raises(sa.exc.DBAPIError) as failed:
                await conn.execute(sa.text("SELECT CAST(:v AS text)"), {"v": secret + "\x00"})
    finally:
        await engine.dispose()
    assert "SELECT" in str(failed.value)
    assert secret not in str(failed.value)
