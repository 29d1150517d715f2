"""The OpenAPI document is valid OpenAPI 3.1 and says what the API does: the bearer
token, problem+json errors, multipart uploads as one request body."""

from __future__ import annotations

from openapi_spec_validator import validate


def test_the_document_is_valid_openapi(client):
    validate(client.get("/api/v1/openapi.json").json)


def test_every_operation_needs_the_bearer_token(client):
    document = client.get("/api/v1/openapi.json").json
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    assert document["security"] == [{"bearerAuth": []}]


def test_errors_are_documented_as_problem_details(client):
    document = client.get("/api/v1/openapi.json").json
    responses = document["components"]["responses"]
    for status in ("NOT_FOUND", "UNPROCESSABLE_CONTENT", "DEFAULT_ERROR"):
        if status in responses:
            content = responses[status]["content"]
            assert list(content) == ["application/problem+json"], (status, content)
    problem = document["components"]["schemas"]["Problem"]["properties"]
    assert {"title", "status", "detail", "errors"} <= set(problem)


def test_participant_import_is_one_multipart_body(client, api_as):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/api/v1/participants/import"]["post"]
    assert all(p["in"] != "formData" for p in operation.get("parameters", []))
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[-1]
    fields = document["components"]["schemas"][ref]["properties"]
    assert set(fields) == {"site", "file"}
