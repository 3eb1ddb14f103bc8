"""The manual API's JSON schemas: its request bodies, as strict as the code that parses them,
and its answers, closed (every property listed, nothing else allowed)."""

from __future__ import annotations

from typing import Any

from shared.domain.api_requests import MAX_REASON, OPERATION_ID_PATTERN, REASON_PATTERN


def schemas(served_model: str | None) -> dict[str, Any]:
    """The component schemas; ``served_model`` (the one model this app deploys) makes the
    redeploy request's ``model`` a constant, as the code enforces it."""
    reason = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_REASON,
        "pattern": REASON_PATTERN,
        "description": "Why; recorded, trimmed, in every audit record the call causes. No "
        "control or format characters nor line or paragraph separators (Unicode Cc, Cf, Zl, "
        "Zp), and something besides spaces.",
    }
    supersede = {
        "type": "boolean",
        "default": False,
        "description": "Replace a rollout that is already active instead of answering 409.",
    }
    nullable = {"type": ["string", "null"]}
    model = closed(
        {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"},
            "version": {"type": "string", "pattern": "^[1-9][0-9]{0,9}$"},  # check_version
        }
    )
    requested = dict(model["properties"]["name"])
    if served_model is not None:
        requested["const"] = served_model
        requested["description"] = "The model this app serves; any other is refused (422)."
    return {
        "Error": closed(
            {"error": {"type": "string"}, "message": {"type": "string"}},
            required=("error",),
            description="`error` is a code and `message` says what is wrong with the request; "
            "the host's own refusals (before a function runs) carry `error` alone.",
        ),
        "RedeployRequest": closed(
            {
                "model": requested,
                "version": model["properties"]["version"],
                "reason": reason,
                "supersede": supersede,
            },
            required=("model", "version", "reason"),
            description="Exactly these fields: image, instance type, command and environment "
            "variables cannot be set by a caller, and unknown fields are refused by name.",
            examples=[
                {
                    "model": served_model or "spam-classifier",
                    "version": "3",
                    "reason": "v4 flags invoices as spam",
                }
            ],
        ),
        "RollbackRequest": closed(
            {"reason": reason, "supersede": supersede},
            required=("reason",),
            examples=[{"reason": "complaints since the last rollout", "supersede": True}],
        ),
        "TrainRequest": closed(
            {"reason": reason},
            required=("reason",),
            description="Only a reason: which files train is the app's to say (the dataset's "
            "accepted, non-quarantined ones), and the job runs the deployed training code.",
            examples=[{"reason": "retrain with the training code of commit 4f2a9c1"}],
        ),
        "Accepted": closed(
            {
                "operation_id": {"type": "string", "pattern": OPERATION_ID_PATTERN},
                "status_url": {
                    "type": "string",
                    "pattern": "^/api/operations/(?:ro|tr)-[0-9a-f]{20}$",
                },
            }
        ),
        "ModelRef": model,
        "Deployment": closed(
            {
                "name": {"type": "string"},
                "model": ref("ModelRef"),
                "image": nullable,
                "state": {"enum": ["creating", "succeeded", "failed", "deleting"]},
                "traffic": {"type": "integer", "minimum": 0, "maximum": 100},
            }
        ),
        "ActiveRollout": closed(
            {
                "operation_id": {"type": "string"},
                "phase": {"type": "string"},
                "model": ref("ModelRef"),
            }
        ),
        "Endpoint": closed(
            {
                "name": {"type": "string"},
                "traffic": {"type": "object", "additionalProperties": {"type": "integer"}},
                "serving": nullable,
                "deployments": {"type": "array", "items": ref("Deployment")},
                "active_rollout": {"oneOf": [ref("ActiveRollout"), {"type": "null"}]},
            }
        ),
        "EndpointList": closed({"endpoints": {"type": "array", "items": ref("Endpoint")}}),
        "Transition": closed(
            {
                "time": {"type": "string", "format": "date-time"},
                "phase": {"type": "string"},
                "note": {"type": "string"},
            }
        ),
        "TrainingOperation": training_operation(nullable),
        "Operation": closed(
            {
                "operation_id": {"type": "string"},
                "endpoint": {"type": "string"},
                "kind": {"enum": ["model", "image", "manual", "rollback"]},
                "model": ref("ModelRef"),
                "image": nullable,
                "requested_by": closed({"actor": {"type": "string"}, "name": nullable}),
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
                        "failed",
                    ]
                },
                "phase_since": {"type": "string", "format": "date-time"},
                "active": {"type": "boolean"},
                "outcome": {"enum": ["succeeded", "rolled_back", "superseded", "failed", None]},
                "deployment": nullable,
                "previous_deployment": nullable,
                "previous_model": {"oneOf": [ref("ModelRef"), {"type": "null"}]},
                "history": {"type": "array", "items": ref("Transition")},
            }
        ),
    }


def training_operation(nullable: dict[str, Any]) -> dict[str, Any]:
    """A training request: ``waiting`` for its window to close, ``submitted`` (the job runs),
    ``completed`` or ``failed`` (the window parked, or the job failed)."""
    return closed(
        {
            "operation_id": {"type": "string", "pattern": "^tr-[0-9a-f]{20}$"},
            "kind": {"const": "train"},
            "dataset": {"type": "string"},
            "requested_by": closed({"actor": {"type": "string"}, "name": nullable}),
            "reason": {"type": "string"},
            "requested_at": {"type": "string", "format": "date-time"},
            "window_id": {"type": "string"},
            "files": {"type": "integer", "minimum": 1},
            "phase": {"enum": ["waiting", "submitted", "completed", "failed"]},
            "active": {"type": "boolean"},
            "outcome": {"enum": ["succeeded", "failed", None]},
            "due": {"oneOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
            "job": {
                "oneOf": [
                    closed({"name": {"type": "string"}, "status": {"type": "string"}}),
                    {"type": "null"},
                ]
            },
            "error": nullable,
        }
    )


def closed(
    properties: dict[str, Any],
    *,
    required: tuple[str, ...] | None = None,
    description: str = "",
    examples: list[dict[str, Any]] | None = None,
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
    if examples:
        schema["examples"] = examples
    return schema


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}
