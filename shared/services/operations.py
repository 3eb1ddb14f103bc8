"""Operator actions: redeploy a known model version, or roll back to the previous one.

The HTTP API maps principals and status codes onto these; the decisions live here. Every
record an action causes, the later reconciler steps of its rollout included, names the
principal as its actor and carries the operator's reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.principal import Principal
from shared.domain.rollout import Phase, Rollout
from shared.domain.values import ModelRef
from shared.ports import AuditSink, Clock, LiveTraffic, MLPlatform, NotFound, StateStore
from shared.services.config import ServiceSettings
from shared.services.model_registered import check_gate
from shared.services.rollout_requests import Actor, RolloutConflict, RolloutPorts, RolloutRequest
from shared.services.rollouts import (
    ROLLOUT,
    abort,
    active_rollout,
    advance_or_defer,
    rollout_id,
    start_rollout,
)

__all__ = [
    "NothingToRollBack",
    "Principal",
    "UnknownEndpoint",
    "UnknownModelVersion",
    "redeploy",
    "rollback",
]


class UnknownEndpoint(NotFound):
    pass


class UnknownModelVersion(NotFound):
    pass


class NothingToRollBack(NotFound):
    """The endpoint exists but no completed rollout left a previous model to return to."""


def redeploy(
    endpoint: str,
    model: ModelRef,
    *,
    principal: Principal,
    reason: str,
    operation_key: str,
    supersede: bool,
    platform: MLPlatform,
    state: StateStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
    smoke_set: tuple[tuple[str, str], ...],
    traffic: LiveTraffic | None,
) -> Rollout:
    """Start a rollout of an existing, gate-passed model version. Raises NotFound,
    Rejected or RolloutConflict; every refusal is audited with the principal."""
    ports = RolloutPorts(
        platform=platform,
        state=state,
        audit=audit,
        clock=clock,
        settings=settings,
        smoke_set=smoke_set,
        traffic=traffic,
    )
    target = f"{endpoint} {model}"
    action = "operator.redeploy"
    try:
        _check_endpoint(platform, endpoint)
        if model.name != settings.model_name:
            raise Rejected(f"model {model.name!r} is not the model this app serves", field="model")
        try:
            version = platform.get_model(model.name, model.version)
        except NotFound:
            raise UnknownModelVersion(f"model version {model}") from None
        check_gate(version, platform=platform, state=state, settings=settings)
        request = _request(endpoint, model, "manual", principal, reason, operation_key)
        rollout = start_rollout(request, ports, supersede=supersede)
    except (NotFound, Rejected, RolloutConflict) as refused:
        audit_operator_action(
            audit, principal, action, target, "rejected", operation_key, _why(refused), reason
        )
        raise
    audit_operator_action(audit, principal, action, target, "accepted", rollout.id, reason, reason)
    return advance_or_defer(rollout, ports)


def rollback(
    endpoint: str,
    *,
    principal: Principal,
    reason: str,
    operation_key: str,
    supersede: bool = True,
    platform: MLPlatform,
    state: StateStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
    smoke_set: tuple[tuple[str, str], ...],
    traffic: LiveTraffic | None,
) -> Rollout:
    """Abort the active rollout if there is one (only when ``supersede``, else
    RolloutConflict); otherwise redeploy the model that served before the last completed
    rollout. Raises NotFound for an unknown endpoint, NothingToRollBack when there is
    nothing to go back to."""
    ports = RolloutPorts(
        platform=platform,
        state=state,
        audit=audit,
        clock=clock,
        settings=settings,
        smoke_set=smoke_set,
        traffic=traffic,
    )
    action = "operator.rollback"
    try:
        _check_endpoint(platform, endpoint)
        if (active := active_rollout(endpoint, state=state)) is not None:
            if not supersede:
                raise RolloutConflict(active)
            audit_operator_action(
                audit, principal, action, endpoint, "accepted", active.id, reason, reason
            )
            by = Actor(principal.actor, {**principal.audit_details(), "actor_reason": reason})
            return abort(active, ports, f"rolled back by {principal.name}: {reason}", by)
        previous = _last_completed(state, endpoint)
        if previous is None or previous.previous_model is None:
            raise NothingToRollBack(f"endpoint {endpoint} has no previous model to roll back to")
        request = _request(
            endpoint, previous.previous_model, "rollback", principal, reason, operation_key
        )
        rollout = start_rollout(request, ports, supersede=False)
    except (NotFound, RolloutConflict) as refused:
        audit_operator_action(
            audit,
            principal,
            action,
            endpoint,
            "rejected",
            operation_key,
            _why(refused),
            reason,
        )
        raise
    audit_operator_action(
        audit, principal, action, endpoint, "accepted", rollout.id, reason, reason
    )
    return advance_or_defer(rollout, ports)


def _check_endpoint(platform: MLPlatform, endpoint: str) -> None:
    try:
        platform.get_endpoint(endpoint)
    except NotFound:
        raise UnknownEndpoint(f"endpoint {endpoint}") from None


def _request(
    endpoint: str, model: ModelRef, kind: str, principal: Principal, reason: str, key: str
) -> RolloutRequest:
    prefix = "manual" if kind == "manual" else "rollback"
    idempotency_key = f"{prefix}:{principal.object_id}:{key}"
    # The operation id the caller is given is the correlation id of every step it causes,
    # so `mlops audit --correlation-id OP` tells the whole story of one operation.
    operation_id = rollout_id(idempotency_key)
    return RolloutRequest(
        endpoint,
        model,
        None,
        kind,
        principal.actor,
        reason,
        operation_id,
        idempotency_key,
        principal.audit_details(),
    )


def _why(refused: Exception) -> str:
    if isinstance(refused, NotFound) and not isinstance(refused, NothingToRollBack):
        return f"not found: {refused}"
    return str(refused)


def _last_completed(state: StateStore, endpoint: str) -> Rollout | None:
    done = [
        r
        for r in (Rollout.from_dict(s.value) for s in state.list(ROLLOUT))
        if r.endpoint == endpoint and r.phase == Phase.COMPLETED
    ]
    return max(done, key=lambda r: r.phase_since, default=None)


def audit_operator_action(
    audit: AuditSink,
    principal: Principal,
    action: str,
    target: str,
    outcome: Outcome,
    result: str,
    reason: str,
    request_reason: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """One audit record for what a person asked through the API: who (with their roles),
    what became of it, and the reason they gave. Every operator.* action writes through here."""
    audit.append(
        AuditEntry(
            actor=principal.actor,
            action=action,
            target=target,
            outcome=outcome,
            reason=reason,
            correlation_id=result,
            details={
                **principal.audit_details(),
                "request_reason": request_reason,
                **(details or {}),
            },
        )
    )
