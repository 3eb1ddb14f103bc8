"""Operator actions: redeploy a known model version, or roll back to the previous one.

The HTTP API maps principals and status codes onto these; the decisions live here.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.models import ModelRef
from shared.domain.rollout import Phase, Rollout
from shared.ports import NotFound
from shared.services.deps import Deps
from shared.services.models import check_gate
from shared.services.rollouts import (
    ROLLOUT,
    RolloutRequest,
    abort,
    active_rollout,
    advance,
    start_rollout,
)


@dataclass(frozen=True)
class Principal:
    object_id: str
    name: str
    roles: tuple[str, ...]

    @property
    def actor(self) -> str:
        return f"user:{self.object_id}"


def redeploy(
    endpoint: str,
    model: ModelRef,
    *,
    principal: Principal,
    reason: str,
    operation_key: str,
    supersede: bool,
    deps: Deps,
) -> Rollout:
    """Start a rollout of an existing, gate-passed model version. Raises NotFound,
    Rejected or RolloutConflict; every refusal is audited with the principal."""
    target = f"{endpoint} {model}"
    try:
        deps.platform.get_endpoint(endpoint)
        version = deps.platform.get_model(model.name, model.version)
        check_gate(version, deps)
    except (NotFound, Rejected) as refused:
        _audit(
            deps, principal, "operator.redeploy", target, "rejected", operation_key, str(refused)
        )
        raise
    rollout = start_rollout(
        RolloutRequest(
            endpoint,
            model,
            None,
            "manual",
            principal.actor,
            reason,
            operation_key,
            f"manual:{principal.object_id}:{operation_key}",
        ),
        deps,
        supersede=supersede,
    )
    _audit(deps, principal, "operator.redeploy", target, "accepted", rollout.id, reason)
    return advance(rollout, deps)


def rollback(
    endpoint: str, *, principal: Principal, reason: str, operation_key: str, deps: Deps
) -> Rollout:
    """Abort the active rollout if there is one; otherwise redeploy the model that served
    before the last completed rollout. Raises NotFound when there is nothing to go back to."""
    if (active := active_rollout(deps, endpoint)) is not None:
        _audit(deps, principal, "operator.rollback", endpoint, "accepted", active.id, reason)
        return abort(active, deps, f"rolled back by {principal.name}: {reason}")
    previous = _last_completed(deps, endpoint)
    if previous is None or previous.previous_model is None:
        _audit(
            deps,
            principal,
            "operator.rollback",
            endpoint,
            "rejected",
            operation_key,
            f"nothing to roll back to ({reason})",
        )
        raise NotFound(f"endpoint {endpoint} has no previous model to roll back to")
    rollout = start_rollout(
        RolloutRequest(
            endpoint,
            previous.previous_model,
            None,
            "rollback",
            principal.actor,
            reason,
            operation_key,
            f"rollback:{principal.object_id}:{operation_key}",
        ),
        deps,
        supersede=False,
    )
    _audit(deps, principal, "operator.rollback", endpoint, "accepted", rollout.id, reason)
    return advance(rollout, deps)


def _last_completed(deps: Deps, endpoint: str) -> Rollout | None:
    done = [
        r
        for r in (Rollout.from_dict(s.value) for s in deps.state.list(ROLLOUT))
        if r.endpoint == endpoint and r.phase == Phase.COMPLETED
    ]
    return max(done, key=lambda r: r.phase_since, default=None)


def _audit(
    deps: Deps,
    principal: Principal,
    action: str,
    target: str,
    outcome: Outcome,
    result: str,
    reason: str,
) -> None:
    deps.audit.append(
        AuditEntry(
            actor=principal.actor,
            action=action,
            target=target,
            outcome=outcome,
            reason=reason,
            correlation_id=result,
            details={"principal": principal.name, "roles": list(principal.roles)},
        )
    )
