"""What the manual API's reads return: endpoints as they serve, and rollouts and training
requests as operations."""

from __future__ import annotations

from typing import Any

from shared.domain.rollout import Phase, Rollout
from shared.domain.values import EndpointInfo, ModelRef
from shared.ports import MLPlatform, NotFound, StateStore
from shared.services.config import ServiceSettings
from shared.services.operations import UnknownEndpoint
from shared.services.retrain import PREFIX as TRAIN_PREFIX
from shared.services.retrain import training_view
from shared.services.rollouts import REQUESTER, ROLLOUT, active_rollout, get_rollout

_OUTCOMES = {
    Phase.COMPLETED: "succeeded",
    Phase.ROLLED_BACK: "rolled_back",
    Phase.SUPERSEDED: "superseded",
    Phase.FAILED: "failed",  # parked on a permanent error
}


class UnknownOperation(NotFound):
    pass


def endpoint_views(
    *, platform: MLPlatform, state: StateStore, settings: ServiceSettings
) -> list[dict[str, Any]]:
    """The app's endpoint and any other endpoint a rollout has touched, if it still exists.
    (The platform port lists no endpoints: this app only manages the ones it deploys to.)"""
    names = {settings.endpoint_name}
    names.update(str(s.value["endpoint"]) for s in state.list(ROLLOUT))
    views = []
    for name in sorted(names):
        try:
            views.append(endpoint_view(name, platform=platform, state=state))
        except UnknownEndpoint:
            continue
    return views


def endpoint_view(name: str, *, platform: MLPlatform, state: StateStore) -> dict[str, Any]:
    try:
        info = platform.get_endpoint(name)
    except NotFound:
        raise UnknownEndpoint(f"endpoint {name}") from None
    active = active_rollout(name, state=state)
    return {
        "name": info.name,
        "traffic": dict(info.traffic),
        "serving": info.serving,
        "deployments": _deployments(info),
        "active_rollout": None
        if active is None
        else {"operation_id": active.id, "phase": active.phase.value, "model": _ref(active.model)},
    }


def operation_view(
    operation_id: str, *, state: StateStore, settings: ServiceSettings
) -> dict[str, Any]:
    if operation_id.startswith(TRAIN_PREFIX):
        view = training_view(operation_id, state=state, settings=settings)
        if view is None:
            raise UnknownOperation(f"operation {operation_id}")
        return view
    rollout = get_rollout(operation_id, state=state)
    if rollout is None:
        raise UnknownOperation(f"operation {operation_id}")
    return {
        "operation_id": rollout.id,
        "endpoint": rollout.endpoint,
        "kind": rollout.kind,
        "model": _ref(rollout.model),
        "image": rollout.image,
        "requested_by": _requested_by(state, rollout),
        "reason": rollout.reason,
        "phase": rollout.phase.value,
        "phase_since": rollout.phase_since,
        "active": rollout.active,
        "outcome": _OUTCOMES.get(rollout.phase),
        "deployment": rollout.colour or None,
        "previous_deployment": rollout.previous,
        "previous_model": _ref(rollout.previous_model) if rollout.previous_model else None,
        "history": [
            {"time": step.time, "phase": step.phase.value, "note": step.note}
            for step in rollout.history
        ],
    }


def _deployments(info: EndpointInfo) -> list[dict[str, Any]]:
    return [
        {
            "name": d.name,
            "model": _ref(d.model),
            "image": d.image,
            "state": d.state,
            "traffic": int(info.traffic.get(d.name, 0)),
        }
        for d in info.deployments
    ]


def _requested_by(state: StateStore, rollout: Rollout) -> dict[str, Any]:
    stored = state.get(REQUESTER, rollout.id) if rollout.actor.startswith("user:") else None
    principal = stored.value.get("principal", {}) if stored else {}
    return {"actor": rollout.actor, "name": principal.get("name")}


def _ref(ref: ModelRef) -> dict[str, str]:
    return {"name": ref.name, "version": ref.version}
