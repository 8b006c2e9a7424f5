"""The error answers every JSON operation can give, written into the OpenAPI document.

FastAPI documents only 422 and only its own validation shape; our services also answer
422 from domain rules (``{"detail": message, "code", "field"}``), and 400/401/403/404/409/413
with the same ``ErrorBody``. ``document_error_responses`` makes the document say so, so a
client (or the schemathesis fuzzing in tests/hostile) can rely on every answer matching it.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI

ERROR_BODY: Final = "ErrorBody"
VALIDATION_BODY: Final = "HTTPValidationError"
ERROR_STATUSES: Final = {
    "400": "Malformed request",
    "401": "Missing or unknown bearer token",
    "403": "The token's role may not do this",
    "404": "Unknown resource",
    "409": "Conflicts with the current state (illegal transition, duplicate, locked)",
    "413": "Request body too large",
}
ERROR_BODY_SCHEMA: Final[dict[str, Any]] = {
    "title": ERROR_BODY,
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, for a person"},
        "code": {"type": "string", "description": "Stable machine-readable error code"},
        "field": {"type": "string", "description": "The offending field, when there is one"},
    },
}
VALIDATION_ITEM_SCHEMA: Final[dict[str, Any]] = {
    "title": "ValidationError",
    "type": "object",
    "required": ["loc", "msg", "type"],
    "properties": {
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
        "type": {"type": "string"},
    },
}
FASTAPI_VALIDATION_SCHEMA: Final[dict[str, Any]] = {
    "title": VALIDATION_BODY,
    "type": "object",
    "properties": {
        "detail": {"type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}
    },
}
HTTP_METHODS: Final = frozenset({"get", "post", "put", "patch", "delete"})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answers_json(operation: dict[str, Any]) -> bool:
    for status, response in operation.get("responses", {}).items():
        if status.startswith("2") and "application/json" in response.get("content", {}):
            return True
    return False


def _document_422(responses: dict[str, Any], invalid: str) -> None:
    """422 is the validation shape or the domain shape, whatever a route declared."""
    declared = responses.get("422", {}).get("content", {}).get("application/json", {})
    schema = declared.get("schema")
    if schema is None or schema == _ref(invalid):
        responses["422"] = _json_response("Validation Error", _ref(invalid))
    else:
        declared["schema"] = {"anyOf": [schema, _ref(invalid)]}


def add_error_responses(document: dict[str, Any]) -> dict[str, Any]:
    """Patch a generated OpenAPI document in place (and return it)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas[ERROR_BODY] = ERROR_BODY_SCHEMA
    validation = schemas.get(VALIDATION_BODY)
    if validation is None:
        schemas.setdefault("ValidationError", VALIDATION_ITEM_SCHEMA)
        validation = FASTAPI_VALIDATION_SCHEMA
    schemas[VALIDATION_BODY] = {"title": VALIDATION_BODY, "anyOf": [validation, _ref(ERROR_BODY)]}
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS or not _answers_json(operation):
                continue
            responses = operation.setdefault("responses", {})
            for status, description in ERROR_STATUSES.items():
                responses.setdefault(status, _json_response(description, _ref(ERROR_BODY)))
            _document_422(responses, VALIDATION_BODY)
    return document


def document_error_responses(app: FastAPI) -> None:
    """Make ``app.openapi()`` document the shared error answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
