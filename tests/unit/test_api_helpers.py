"""How the manual API tests call it: real ``func.HttpRequest`` objects handed to the
functions registered in ``function_app``, as the host does, with App Service
Authentication's principal header. Every answer is checked against the OpenAPI document:
its status must be documented for the route and its body must match the schema."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import azure.functions as func
import jsonschema  # type: ignore[import-untyped]  # no stubs installed

from functions.api.openapi import document
from shared.devhost.functions_registry import user_function
from shared.domain.values import ModelRef
from tests.conftest import World, model_registered

ENDPOINT = "spam-endpoint"
MODEL = "spam-classifier"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ALICE_OID = "6f1c2a0e-3b7d-4c52-9a11-0a1b2c3d4e5f"
BOB_OID = "0d9e8f7a-1111-4222-8333-944455566677"
DEPLOYER = ("MLOps.Deployer",)
READER = ("MLOps.Reader",)
GOOD_TAGS = {"gate": "passed", "gate_reason": "beats champion", "accuracy": "0.99", "f1": "0.96"}

# Function name → (method, route under /api) as registered; the tests address functions by
# these, so a renamed route fails here first.
ROUTES = {
    "api_list_endpoints": ("GET", "/api/endpoints"),
    "api_get_endpoint": ("GET", "/api/endpoints/{endpoint}"),
    "api_redeploy": ("POST", "/api/endpoints/{endpoint}/deployments"),
    "api_rollback": ("POST", "/api/endpoints/{endpoint}/rollback"),
    "api_train": ("POST", "/api/datasets/{dataset}/train"),
    "api_get_operation": ("GET", "/api/operations/{operation_id}"),
    "api_openapi": ("GET", "/api/openapi.json"),
}


def principal_header(
    oid: str = ALICE_OID,
    name: str = "alice@contoso.com",
    roles: Sequence[str] = DEPLOYER,
    *,
    oid_typ: str = OID,
    role_typ: str = "roles",
) -> str:
    """``X-MS-CLIENT-PRINCIPAL`` exactly as App Service Authentication sets it."""
    claims = [
        {"typ": "aud", "val": "api://mlops"},
        {"typ": oid_typ, "val": oid},
        {"typ": "name", "val": name},
        *({"typ": role_typ, "val": role} for role in roles),
    ]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": role_typ}
    return base64.b64encode(json.dumps(document).encode()).decode()


ALICE = principal_header()
BOB = principal_header(BOB_OID, "bob@contoso.com", READER)


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case


def call(
    function: str,
    *,
    principal: str | None = ALICE,
    route_params: Mapping[str, str] | None = None,
    body: bytes | Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Reply:
    method, route = ROUTES[function]
    path = route.format(**(route_params or {}))
    sent = dict(headers or {})
    if principal is not None:
        sent["X-MS-CLIENT-PRINCIPAL"] = principal
    if isinstance(body, Mapping):
        sent.setdefault("Content-Type", "application/json")
        raw = json.dumps(body).encode()
    else:
        raw = body or b""
    request = func.HttpRequest(
        method,
        f"http://localhost:7071{path}",
        headers=sent,
        params={},
        route_params=dict(route_params or {}),
        body=raw,
    )
    response = user_function(function, "httpTrigger")(request)
    reply = Reply(
        response.status_code,
        json.loads(response.get_body()),
        {k.lower(): v for k, v in response.headers.items()},
    )
    check_documented(route, method, reply)
    return reply


def check_documented(route: str, method: str, reply: Reply) -> None:
    doc = document()
    responses = doc["paths"][route][method.lower()]["responses"]
    assert str(reply.status) in responses, f"{method} {route} answered undocumented {reply.status}"
    spec = responses[str(reply.status)]
    if "$ref" in spec:
        spec = doc["components"]["responses"][spec["$ref"].rsplit("/", 1)[-1]]
    schema = {**spec["content"]["application/json"]["schema"], "components": doc["components"]}
    jsonschema.Draft202012Validator(schema).validate(reply.body)
    for header, declared in spec.get("headers", {}).items():
        in_progress = reply.status == 409 and reply.body["error"] == "request_in_progress"
        if declared.get("required") or in_progress:
            assert header.lower() in reply.headers, f"{reply.status} lacks {header}"


def redeploy(
    version: str,
    *,
    reason: str = "v2 misclassifies invoices",
    principal: str | None = ALICE,
    key: str | None = None,
    supersede: bool | None = None,
    endpoint: str = ENDPOINT,
) -> Reply:
    body: dict[str, Any] = {"model": MODEL, "version": version, "reason": reason}
    if supersede is not None:
        body["supersede"] = supersede
    return call(
        "api_redeploy",
        principal=principal,
        route_params={"endpoint": endpoint},
        body=body,
        headers={"Idempotency-Key": key} if key else None,
    )


def rollback(
    *, reason: str = "complaints", supersede: bool | None = None, principal: str = ALICE
) -> Reply:
    body: dict[str, Any] = {"reason": reason}
    if supersede is not None:
        body["supersede"] = supersede
    return call("api_rollback", principal=principal, route_params={"endpoint": ENDPOINT}, body=body)


def operation(operation_id: str, principal: str = BOB) -> Reply:
    return call(
        "api_get_operation", principal=principal, route_params={"operation_id": operation_id}
    )


def serve(world: World, *versions: str) -> None:
    """Register each version through its ModelRegistered event and let its rollout finish."""
    for version in versions:
        world.platform.add_model(MODEL, version, GOOD_TAGS)
        world.deliver("on_model_registered", model_registered(MODEL, version))
        settle(world)


def settle(world: World) -> None:
    for _ in range(5):
        world.reconcile()
        world.clock.advance(301)


def serving_model(world: World) -> ModelRef:
    endpoint = world.platform.get_endpoint(ENDPOINT)
    return world.platform.get_deployment(ENDPOINT, endpoint.serving or "").model


def test_the_helper_header_is_what_app_service_authentication_sends() -> None:
    decoded = json.loads(base64.b64decode(ALICE))
    assert decoded["auth_typ"] == "aad"
    assert {"typ": OID, "val": ALICE_OID} in decoded["claims"]
    assert {"typ": "roles", "val": "MLOps.Deployer"} in decoded["claims"]
