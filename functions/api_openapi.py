"""The manual API as OpenAPI 3.1: what ``GET /api/openapi.json`` serves.

Kept next to the routes and checked against them by a test: every route is described here
and everything described here is routed, with every status code the code can answer
(405 for a wrong method comes from the Functions host, not from these functions).
"""

from __future__ import annotations

from typing import Any

from shared.domain.api_requests import MAX_IDEMPOTENCY_KEY, MAX_REASON
from shared.domain.principal import DEPLOYER, READER

_ROLES = (
    f"App roles (the token's `roles` claim): `{READER}` may read endpoints and operations; "
    f"`{DEPLOYER}` may also redeploy and roll back."
)
_RESPONSES = {
    "400": (
        "BadRequest",
        "Malformed JSON, a missing, unknown or invalid field, or a bad "
        "Idempotency-Key; the message names the field.",
    ),
    "401": (
        "Unauthorized",
        "No valid principal: the request did not come through App Service Authentication.",
    ),
    "403": ("Forbidden", "The principal lacks the app role this operation needs."),
    "404": ("NotFound", "Unknown endpoint, model version or operation."),
    "409": (
        "Conflict",
        "A rollout is already active (send `supersede: true`), there is "
        "nothing to roll back to, or a request with this Idempotency-Key is running.",
    ),
    "413": ("PayloadTooLarge", "The body is larger than 16 KiB."),
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
_HEADERS = {
    "401": {"WWW-Authenticate": "Bearer challenge"},
    "409": {"Retry-After": "Seconds, when the conflict is a request still running"},
    "429": {"Retry-After": "Seconds until the next one-minute window"},
    "503": {"Retry-After": "Seconds"},
}
_READ_ERRORS = ("401", "403", "429", "500", "503")
_WRITE_ERRORS = ("400", "401", "403", "404", "409", "413", "415", "422", "429", "500", "503")


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "secure-mlops-azure manual API",
            "version": "1.0.0",
            "description": "Redeploy a registered model version or roll an endpoint back, "
            "through the same blue/green rollout the events use. " + _ROLES + " Every call "
            "that changes something, and every refused call, lands in the audit trail.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"entra": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": _security_schemes(),
            "parameters": _parameters(),
            "schemas": _schemas(),
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
                {"200": _json(_ref("EndpointList"), "The endpoints")},
                _READ_ERRORS,
            )
        },
        "/api/endpoints/{endpoint}": {
            "parameters": [endpoint],
            "get": _operation(
                "getEndpoint",
                "Deployments, traffic, models and the active rollout",
                (READER, DEPLOYER),
                {"200": _json(_ref("Endpoint"), "The endpoint")},
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
            ),
        },
        "/api/operations/{operation_id}": {
            "parameters": [{"$ref": "#/components/parameters/operationId"}],
            "get": _operation(
                "getOperation",
                "A rollout's state, phases with times and outcome",
                (READER, DEPLOYER),
                {"200": _json(_ref("Operation"), "The operation")},
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
                    }
                },
            }
        },
    }


def _write(op_id: str, summary: str, body: str, key: dict[str, str]) -> dict[str, Any]:
    accepted = _json(
        _ref("Accepted"),
        "Started (or, for a retried Idempotency-Key, the "
        "first answer again, with `Idempotent-Replayed: true`)",
    )
    accepted["headers"] = {
        "Location": {"description": "The operation's status URL", "schema": {"type": "string"}}
    }
    operation = _operation(op_id, summary, (DEPLOYER,), {"202": accepted}, _WRITE_ERRORS)
    operation["parameters"] = [key]
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": _ref(body)}},
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
        "responses": {
            **ok,
            **{
                code: {"$ref": f"#/components/responses/{_RESPONSES[code][0]}"}
                for code in sorted(errors)
            },
        },
    }


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
            "schema": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]{2,31}$"},
        },
        "operationId": {
            "name": "operation_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": "^ro-[0-9a-f]{20}$"},
        },
        "idempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Retries with the same key (per principal) get the first answer "
            "and start nothing; the same key with another body is refused (422).",
            "schema": {
                "type": "string",
                "pattern": f"^[A-Za-z0-9._:-]{{1,{MAX_IDEMPOTENCY_KEY}}}$",
            },
        },
    }


def _schemas() -> dict[str, Any]:
    reason = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_REASON,
        "description": "Why; recorded in every audit record the call causes. No control or "
        "format characters.",
    }
    supersede = {
        "type": "boolean",
        "default": False,
        "description": "Replace a rollout that is already active instead of answering 409.",
    }
    nullable = {"type": ["string", "null"]}
    model = _object(
        {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"},
            "version": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
        }
    )
    return {
        "Error": _object({"error": {"type": "string"}, "message": {"type": "string"}}),
        "RedeployRequest": _object(
            {
                "model": model["properties"]["name"],
                "version": model["properties"]["version"],
                "reason": reason,
                "supersede": supersede,
            },
            required=("model", "version", "reason"),
            description="Exactly these fields: image, instance type, command and environment "
            "variables cannot be set by a caller, and unknown fields are refused by name.",
        ),
        "RollbackRequest": _object(
            {"reason": reason, "supersede": supersede}, required=("reason",)
        ),
        "Accepted": _object({"operation_id": {"type": "string"}, "status_url": {"type": "string"}}),
        "ModelRef": model,
        "Deployment": _object(
            {
                "name": {"type": "string"},
                "model": _ref("ModelRef"),
                "image": nullable,
                "state": {"enum": ["creating", "succeeded", "failed", "deleting"]},
                "traffic": {"type": "integer", "minimum": 0, "maximum": 100},
            }
        ),
        "ActiveRollout": _object(
            {
                "operation_id": {"type": "string"},
                "phase": {"type": "string"},
                "model": _ref("ModelRef"),
            }
        ),
        "Endpoint": _object(
            {
                "name": {"type": "string"},
                "traffic": {"type": "object", "additionalProperties": {"type": "integer"}},
                "serving": nullable,
                "deployments": {"type": "array", "items": _ref("Deployment")},
                "active_rollout": {"oneOf": [_ref("ActiveRollout"), {"type": "null"}]},
            }
        ),
        "EndpointList": _object({"endpoints": {"type": "array", "items": _ref("Endpoint")}}),
        "Transition": _object(
            {
                "time": {"type": "string", "format": "date-time"},
                "phase": {"type": "string"},
                "note": {"type": "string"},
            }
        ),
        "Operation": _object(
            {
                "operation_id": {"type": "string"},
                "endpoint": {"type": "string"},
                "kind": {"enum": ["model", "image", "manual", "rollback"]},
                "model": _ref("ModelRef"),
                "image": nullable,
                "requested_by": _object({"actor": {"type": "string"}, "name": nullable}),
                "reason": {"type": "string"},
                "phase": {
                    "enum": [
                        "planned",
                        "deploying",
                        "smoke_testing",
                        "canary",
                        "promoted",
                        "completed",
                        "rolled_back",
                        "superseded",
                    ]
                },
                "phase_since": {"type": "string", "format": "date-time"},
                "active": {"type": "boolean"},
                "outcome": {"enum": ["succeeded", "rolled_back", "superseded", None]},
                "deployment": nullable,
                "previous_deployment": nullable,
                "previous_model": {"oneOf": [_ref("ModelRef"), {"type": "null"}]},
                "history": {"type": "array", "items": _ref("Transition")},
            }
        ),
    }


def _object(
    properties: dict[str, Any], *, required: tuple[str, ...] | None = None, description: str = ""
) -> dict[str, Any]:
    """Closed objects: every property listed, nothing else allowed."""
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "required": list(properties if required is None else required),
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str, code: str) -> dict[str, Any]:
    answer = _json(_ref("Error"), description)
    if code in _HEADERS:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in _HEADERS[code].items()
        }
    return answer
