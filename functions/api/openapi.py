"""The manual API as OpenAPI 3.1: what ``GET /api/openapi.json`` serves.

Kept next to the routes and checked against them by tests: every route is described here
and everything described here is routed, with every status code the code or the host in
front of it can answer (405 with Allow for a method a path does not list comes from the host;
it is nobody's operation). Every rule the code enforces on a request is stated here, so a
request the document calls valid is never refused 400 (schemathesis checks that in `make
test`); 422 and 409 refuse valid requests for the state they meet.
"""

from __future__ import annotations

from typing import Any

from functions.api.schemas import ref, schemas
from shared.domain.api_requests import (
    DATASET_MAX_CHARS,
    DATASET_PATTERN,
    ENDPOINT_PATTERN,
    IDEMPOTENCY_KEY_PATTERN,
    OPERATION_ID_PATTERN,
)
from shared.domain.principal import DEPLOYER, READER

_ROLES = (
    f"App roles (the token's `roles` claim): `{READER}` may read endpoints and operations; "
    f"`{DEPLOYER}` may also redeploy, roll back and retrain."
)
_RESPONSES = {
    "400": (
        "BadRequest",
        "A request the document does not allow: malformed JSON, a missing, unknown or invalid "
        "field, or a bad Idempotency-Key (the message names the field); or one the host could "
        "not read (a malformed Content-Length or chunked body).",
    ),
    "401": (
        "Unauthorized",
        "No valid principal: the request did not come through App Service Authentication.",
    ),
    "403": ("Forbidden", "The principal lacks the app role this operation needs."),
    "404": (
        "NotFound",
        "Unknown endpoint, model version or operation, or (`nothing_to_train`) a dataset "
        "without an accepted file to train on.",
    ),
    "409": (
        "Conflict",
        "A rollout is already active (send `supersede: true`), there is "
        "nothing to roll back to, or a request with this Idempotency-Key is running.",
    ),
    "408": ("RequestTimeout", "The body did not arrive within 30 seconds."),
    "413": ("PayloadTooLarge", "The body is larger than 16 KiB (1 MiB for the host)."),
    "415": ("UnsupportedMediaType", "Content-Type is not application/json."),
    "422": (
        "Unprocessable",
        "The model version may not be deployed (wrong model or gate "
        "not passed), or the Idempotency-Key was used for a different request.",
    ),
    "429": ("TooManyRequests", "Past the per-principal limit of requests per minute."),
    "500": ("InternalError", "Unexpected; the message carries a request id for the logs."),
    "503": ("Unavailable", "A dependency is busy; retry after Retry-After seconds."),
}
# name: (description, always sent)
_HEADERS = {
    "401": {"WWW-Authenticate": ("Bearer challenge", True)},
    "409": {"Retry-After": ("Seconds, when the conflict is a request still running", False)},
    "429": {"Retry-After": ("Seconds until the next one-minute window", True)},
    "503": {"Retry-After": ("Seconds", True)},
}
_SECONDS = {"type": "string", "pattern": "^[0-9]+$"}
# What the host answers before a function runs: a request it cannot read, a stalled or
# oversized body, a function that failed.
_HOST_ERRORS = ("400", "408", "413", "500")
_READ_ERRORS = (*_HOST_ERRORS, "401", "403", "429", "503")
_WRITE_ERRORS = (*_READ_ERRORS, "404", "409", "415", "422")


def document(served_model: str | None = None) -> dict[str, Any]:
    """The document; with ``served_model``, as served: the redeploy request names it."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "secure-mlops-azure manual API",
            "version": "1.0.0",
            "description": "Redeploy a registered model version or roll an endpoint back, "
            "through the same blue/green rollout the events use, or retrain a dataset on the "
            "files it accepted, through the same training job an upload starts. "
            + _ROLES
            + " Every call "
            "that changes something, and every refused call, lands in the audit trail.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"entra": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": _security_schemes(),
            "parameters": _parameters(),
            "schemas": schemas(served_model),
            "responses": {
                name: _error(description, code) for code, (name, description) in _RESPONSES.items()
            },
        },
    }


def _paths() -> dict[str, Any]:
    endpoint = {"$ref": "#/components/parameters/endpoint"}
    key = {"$ref": "#/components/parameters/idempotencyKey"}
    return {
        "/api/endpoints": {
            "get": _operation(
                "listEndpoints",
                "The endpoints this app deploys to",
                (READER, DEPLOYER),
                {"200": _linked(_json(ref("EndpointList"), "The endpoints"), "/endpoints/0/name")},
                _READ_ERRORS,
            )
        },
        "/api/endpoints/{endpoint}": {
            "parameters": [endpoint],
            "get": _operation(
                "getEndpoint",
                "Deployments, traffic, models and the active rollout",
                (READER, DEPLOYER),
                {"200": _linked(_json(ref("Endpoint"), "The endpoint"), "/name")},
                (*_READ_ERRORS, "404"),
            ),
        },
        "/api/endpoints/{endpoint}/deployments": {
            "parameters": [endpoint],
            "post": _write(
                "redeploy",
                "Roll out a registered, gate-passed model version",
                "RedeployRequest",
                key,
                "ro",
            ),
        },
        "/api/endpoints/{endpoint}/rollback": {
            "parameters": [endpoint],
            "post": _write(
                "rollback",
                "Abort the active rollout (with supersede) or return to the "
                "model that served before the last completed one",
                "RollbackRequest",
                key,
                "ro",
            ),
        },
        "/api/datasets/{dataset}/train": {
            "parameters": [{"$ref": "#/components/parameters/dataset"}],
            "post": _write(
                "train",
                "Retrain a dataset on the files it already accepted: its coalescing window, "
                "due now, becomes one training job at the reconciler's next tick",
                "TrainRequest",
                key,
                "tr",
            ),
        },
        "/api/operations/{operation_id}": {
            "parameters": [{"$ref": "#/components/parameters/operationId"}],
            "get": _operation(
                "getOperation",
                "A rollout's state, phases with times and outcome; or a training request's "
                "window, job and outcome",
                (READER, DEPLOYER),
                {
                    "200": _json(
                        {"oneOf": [ref("Operation"), ref("TrainingOperation")]}, "The operation"
                    )
                },
                (*_READ_ERRORS, "404"),
            ),
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    **_refs(_HOST_ERRORS),
                },
            }
        },
    }


def _write(op_id: str, summary: str, body: str, key: dict[str, str], prefix: str) -> dict[str, Any]:
    """A POST answered 202 with the status URL of its operation (``prefix``: ro, tr)."""
    accepted = _json(
        ref("Accepted"),
        "Started (or, for a retried Idempotency-Key, the "
        "first answer again, with `Idempotent-Replayed: true`)",
    )
    accepted["headers"] = {
        "Location": {
            "description": "The operation's status URL",
            "required": True,
            "schema": {"type": "string", "pattern": f"^/api/operations/{prefix}-[0-9a-f]{{20}}$"},
        },
        "Idempotent-Replayed": {
            "description": "Sent with a replayed first answer",
            "schema": {"const": "true"},
        },
    }
    accepted["links"] = {
        "getOperation": {
            "operationId": "getOperation",
            "parameters": {"operation_id": "$response.body#/operation_id"},
            "description": "Follow the rollout this call started."
            if prefix == "ro"
            else "Follow the training request: its window, then its job.",
        }
    }
    operation = _operation(op_id, summary, (DEPLOYER,), {"202": accepted}, _WRITE_ERRORS)
    operation["parameters"] = [key]
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": ref(body)}},
    }
    return operation


def _operation(
    op_id: str,
    summary: str,
    roles: tuple[str, ...],
    ok: dict[str, Any],
    errors: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "operationId": op_id,
        "summary": summary,
        "description": f"Needs the app role {' or '.join(roles)}.",
        "x-app-roles": list(roles),
        "responses": {**ok, **_refs(errors)},
    }


def _refs(codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        code: {"$ref": f"#/components/responses/{_RESPONSES[code][0]}"} for code in sorted(codes)
    }


def _linked(response: dict[str, Any], name: str) -> dict[str, Any]:
    """OpenAPI links from an endpoint's name (at the JSON pointer ``name``) to the operations
    that take it, so a client (or a stateful fuzzer) can follow them."""
    targets = ("redeploy", "rollback") if name == "/name" else ("getEndpoint",)
    response["links"] = {
        target: {"operationId": target, "parameters": {"endpoint": f"$response.body#{name}"}}
        for target in targets
    }
    return response


def _security_schemes() -> dict[str, Any]:
    authority = "https://login.microsoftonline.com/organizations/oauth2/v2.0"
    return {
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An Entra ID access token for the app's audience, validated by App "
            "Service Authentication, which passes the caller on as X-MS-CLIENT-PRINCIPAL. "
            + _ROLES,
        },
        "entra": {
            "type": "oauth2",
            "description": "Entra ID (Azure AD) authorization code flow. " + _ROLES,
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": f"{authority}/authorize",
                    "tokenUrl": f"{authority}/token",
                    "scopes": {"user_impersonation": "Call the manual API as yourself"},
                }
            },
        },
    }


def _parameters() -> dict[str, Any]:
    return {
        "endpoint": {
            "name": "endpoint",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ENDPOINT_PATTERN},
        },
        "dataset": {
            "name": "dataset",
            "in": "path",
            "required": True,
            "description": "A folder of the training-data container, as blobs name it (the "
            "first segment of their path). Up to 250 UTF-8 bytes are accepted; the schema "
            f"says {DATASET_MAX_CHARS} characters, which always fit, and leaves out '%'.",
            "schema": {
                "type": "string",
                "minLength": 1,
                "maxLength": DATASET_MAX_CHARS,
                "pattern": DATASET_PATTERN,
            },
        },
        "operationId": {
            "name": "operation_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": OPERATION_ID_PATTERN},
        },
        "idempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Retries with the same key (per principal) get the first answer "
            "and start nothing; the same key with another body is refused (422).",
            "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
        },
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, code: str) -> dict[str, Any]:
    answer = _json(ref("Error"), description)
    if code in _HEADERS:
        answer["headers"] = {
            name: {
                "description": text,
                "required": always,
                "schema": _SECONDS if name == "Retry-After" else {"type": "string"},
            }
            for name, (text, always) in _HEADERS[code].items()
        }
    return answer
