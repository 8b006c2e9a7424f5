"""The shared error answers are written into every JSON operation's OpenAPI entry."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from otd_shared.openapi_errors import ERROR_STATUSES, document_error_responses


class Thing(BaseModel):
    name: str


class Refusal(BaseModel):
    detail: str
    code: str


def test_error_answers_are_documented() -> None:
    app = FastAPI()

    @app.post("/things", response_model=Thing, responses={422: {"model": Refusal}})
    async def make(body: Thing) -> Thing:
        return body

    @app.get("/plain", response_class=PlainTextResponse)
    async def plain() -> str:
        return "x"

    document_error_responses(app)
    doc = app.openapi()
    responses = doc["paths"]["/things"]["post"]["responses"]
    assert set(ERROR_STATUSES) | {"200", "422"} == set(responses)
    declared = responses["422"]["content"]["application/json"]["schema"]
    assert declared == {
        "anyOf": [
            {"$ref": "#/components/schemas/Refusal"},
            {"$ref": "#/components/schemas/HTTPValidationError"},
        ]
    }
    validation = doc["components"]["schemas"]["HTTPValidationError"]
    assert {"$ref": "#/components/schemas/ErrorBody"} in validation["anyOf"]
    assert "401" not in doc["paths"]["/plain"]["get"]["responses"]
    assert app.openapi() is doc
