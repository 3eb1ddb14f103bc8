"""The OpenAPI document: structurally OpenAPI 3.1, and exactly the routes that are registered.

openapi-spec-validator is not installed, so the document is checked against the parts of the
OpenAPI 3.1 schema it uses (written out below, closed where the specification is closed),
every component schema is checked as JSON Schema 2020-12, and every ``$ref`` must resolve.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import azure.functions as func
import jsonschema  # type: ignore[import-untyped]  # no stubs installed
import pytest

from functions.api.openapi import document
from shared.devhost.functions_registry import registered
from tests.conftest import World
from tests.unit.test_api_helpers import ENDPOINT, MODEL, call, serve

_X: dict[str, Any] = {"^x-": {}}
_STR = {"type": "string"}
OPENAPI_31 = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["openapi", "info", "paths"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {"title": _STR, "version": _STR, "description": _STR},
            "patternProperties": _X,
            "additionalProperties": False,
        },
        "servers": {
            "type": "array",
            "items": {"type": "object", "required": ["url"], "properties": {"url": _STR}},
        },
        "security": {"$ref": "#/$defs/security"},
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {"$ref": "#/$defs/path-item"},
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {"type": "object", "additionalProperties": {"type": "object"}},
                "responses": {"additionalProperties": {"$ref": "#/$defs/response"}},
                "parameters": {"additionalProperties": {"$ref": "#/$defs/parameter"}},
                "securitySchemes": {"additionalProperties": {"$ref": "#/$defs/security-scheme"}},
            },
            "additionalProperties": False,
        },
    },
    "patternProperties": _X,
    "additionalProperties": False,
    "$defs": {
        "reference": {
            "type": "object",
            "required": ["$ref"],
            "properties": {"$ref": {"type": "string", "format": "uri-reference"}},
            "additionalProperties": False,
        },
        "path-item": {
            "type": "object",
            "properties": {
                "parameters": {"type": "array", "items": {"$ref": "#/$defs/parameter-or-ref"}},
                **{
                    method: {"$ref": "#/$defs/operation"}
                    for method in ("get", "put", "post", "delete", "options", "head", "patch")
                },
            },
            "patternProperties": _X,
            "additionalProperties": False,
        },
        "operation": {
            "type": "object",
            "required": ["responses"],
            "properties": {
                "operationId": _STR,
                "summary": _STR,
                "description": _STR,
                "parameters": {"type": "array", "items": {"$ref": "#/$defs/parameter-or-ref"}},
                "requestBody": {"$ref": "#/$defs/request-body"},
                "responses": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": "^([1-5](?:[0-9]{2}|XX)|default)$"},
                    "additionalProperties": {
                        "oneOf": [{"$ref": "#/$defs/reference"}, {"$ref": "#/$defs/response"}]
                    },
                },
                "security": {"$ref": "#/$defs/security"},
            },
            "patternProperties": _X,
            "additionalProperties": False,
        },
        "parameter-or-ref": {
            "oneOf": [{"$ref": "#/$defs/reference"}, {"$ref": "#/$defs/parameter"}]
        },
        "parameter": {
            "type": "object",
            "required": ["name", "in", "schema"],
            "properties": {
                "name": _STR,
                "in": {"enum": ["query", "header", "path", "cookie"]},
                "required": {"type": "boolean"},
                "description": _STR,
                "schema": {"type": "object"},
            },
            "if": {"properties": {"in": {"const": "path"}}},
            "then": {"required": ["required"], "properties": {"required": {"const": True}}},
            "additionalProperties": False,
        },
        "request-body": {
            "type": "object",
            "required": ["content"],
            "properties": {
                "required": {"type": "boolean"},
                "description": _STR,
                "content": {"$ref": "#/$defs/content"},
            },
            "additionalProperties": False,
        },
        "response": {
            "type": "object",
            "required": ["description"],
            "properties": {
                "description": _STR,
                "headers": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "required": ["schema"],
                        "properties": {
                            "description": _STR,
                            "required": {"type": "boolean"},
                            "schema": {"type": "object"},
                        },
                        "additionalProperties": False,
                    },
                },
                "content": {"$ref": "#/$defs/content"},
                "links": {"type": "object", "additionalProperties": {"$ref": "#/$defs/link"}},
            },
            "additionalProperties": False,
        },
        "link": {
            "type": "object",
            "properties": {
                "operationId": _STR,
                "operationRef": _STR,
                "parameters": {"type": "object"},
                "requestBody": {},
                "description": _STR,
                "server": {"type": "object"},
            },
            "oneOf": [{"required": ["operationId"]}, {"required": ["operationRef"]}],
            "additionalProperties": False,
        },
        "content": {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z]+/[a-z0-9.+-]+$"},
            "additionalProperties": {
                "type": "object",
                "required": ["schema"],
                "properties": {"schema": {"type": "object"}},
                "additionalProperties": False,
            },
        },
        "security": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": _STR},
            },
        },
        "security-scheme": {
            "type": "object",
            "required": ["type"],
            "properties": {
                "type": {"enum": ["apiKey", "http", "mutualTLS", "oauth2", "openIdConnect"]}
            },
            "allOf": [
                {
                    "if": {"properties": {"type": {"const": "http"}}},
                    "then": {"required": ["scheme"]},
                },
                {
                    "if": {"properties": {"type": {"const": "oauth2"}}},
                    "then": {"required": ["flows"]},
                },
            ],
        },
    },
}


def walk(node: Any) -> Iterator[Any]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
    for child in children:
        yield from walk(child)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_the_document_is_structurally_openapi_3_1() -> None:
    doc = document()
    jsonschema.Draft202012Validator.check_schema(OPENAPI_31)
    jsonschema.Draft202012Validator(OPENAPI_31, format_checker=jsonschema.FormatChecker()).validate(
        doc
    )
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    for node in walk(doc):
        if isinstance(node, dict) and isinstance(node.get("$ref"), str):
            assert resolve(doc, node["$ref"]) is not None


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d.update(openapi="3.0.3"),
        lambda d: d.update(paths={"api/endpoints": {}}),
        lambda d: d["paths"]["/api/endpoints"]["get"].pop("responses"),
        lambda d: d["paths"]["/api/endpoints"]["get"]["responses"].update({"2000": {}}),
        lambda d: d["components"]["responses"]["Forbidden"].pop("description"),
        lambda d: d["components"]["parameters"]["endpoint"].update(required=False),
        lambda d: d["components"]["securitySchemes"]["bearer"].pop("scheme"),
        lambda d: d["paths"]["/api/endpoints"].update(fetch={"responses": {}}),
    ],
)
def test_the_structural_check_catches_a_broken_document(damage: Any) -> None:
    doc = document()
    damage(doc)
    assert not jsonschema.Draft202012Validator(OPENAPI_31).is_valid(doc)


def http_routes() -> set[tuple[str, str]]:
    routes = set()
    for fn in registered().values():
        trigger = fn.get_trigger()
        if trigger.type == "httpTrigger":
            for method in trigger.methods:
                routes.add((f"/api/{trigger.route}", str(method.value).lower()))
    return routes


def documented_routes() -> set[tuple[str, str]]:
    return {
        (path, method)
        for path, item in document()["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete", "patch", "head", "options"}
    }


def test_every_registered_route_is_documented_and_nothing_else() -> None:
    assert http_routes() == documented_routes()
    assert len(http_routes()) == 7


def test_every_api_function_is_anonymous_at_the_functions_level() -> None:
    """App Service Authentication guards them; a function key would only get in the way."""
    levels = {
        fn.get_trigger().auth_level
        for fn in registered().values()
        if fn.get_trigger().type == "httpTrigger"
    }
    assert levels == {func.AuthLevel.ANONYMOUS}


def test_each_operation_documents_its_roles_and_refusals() -> None:
    doc = document()
    for path, method in documented_routes():
        operation = doc["paths"][path][method]
        codes = set(operation["responses"])
        if path == "/api/openapi.json":
            assert operation["security"] == []
            continue
        assert {"401", "403", "429", "500", "503"} <= codes
        assert operation["x-app-roles"]
        if method == "post":
            assert {"202", "400", "404", "409", "413", "415", "422"} <= codes
            assert operation["x-app-roles"] == ["MLOps.Deployer"]
            assert operation["requestBody"]["required"] is True
            assert "Location" in operation["responses"]["202"]["headers"]
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert "login.microsoftonline.com" in schemes["entra"]["flows"]["authorizationCode"]["tokenUrl"]
    assert "MLOps.Reader" in schemes["bearer"]["description"]
    assert "MLOps.Deployer" in schemes["bearer"]["description"]


def test_every_object_schema_is_closed() -> None:
    for node in walk(document()["components"]["schemas"]):
        if isinstance(node, dict) and "properties" in node:
            assert node.get("additionalProperties") is False, node
    request = document()["components"]["schemas"]["RedeployRequest"]
    assert set(request["properties"]) == {"model", "version", "reason", "supersede"}


@pytest.mark.parametrize(
    "body",
    [
        {"model": MODEL, "version": "1", "reason": "r"},
        {"model": MODEL, "version": "1", "reason": "r", "supersede": True},
        {"model": MODEL, "version": "1", "reason": "r", "image": "x"},
        {"model": MODEL, "version": 1, "reason": "r"},
        {"model": MODEL, "version": "1", "reason": ""},
        {"model": MODEL, "version": "1"},
        {"model": "../x", "version": "1", "reason": "r"},
    ],
)
def test_the_documented_request_schema_and_the_code_agree(world: World, body: Any) -> None:
    serve(world, "1", "2")
    doc = document()
    schema = {"$ref": "#/components/schemas/RedeployRequest", "components": doc["components"]}
    valid = jsonschema.Draft202012Validator(schema).is_valid(body)
    reply = call("api_redeploy", route_params={"endpoint": ENDPOINT}, body=body)
    assert (reply.status != 400) == valid, reply.body


def test_the_served_document_is_the_documented_one(world: World) -> None:
    served = call("api_openapi", principal=None).body
    assert served == document(world.deps.settings.model_name)
    model = served["components"]["schemas"]["RedeployRequest"]["properties"]["model"]
    assert model["const"] == MODEL == world.deps.settings.model_name


def test_a_redeploy_of_another_model_is_outside_the_served_document_and_refused(
    world: World,
) -> None:
    serve(world, "1")
    body = {"model": "other-model", "version": "1", "reason": "r"}
    served = document(world.deps.settings.model_name)
    schema = {"$ref": "#/components/schemas/RedeployRequest", "components": served["components"]}
    assert not jsonschema.Draft202012Validator(schema).is_valid(body)
    reply = call("api_redeploy", route_params={"endpoint": ENDPOINT}, body=body)
    assert (reply.status, reply.body["error"]) == (422, "not_deployable")
