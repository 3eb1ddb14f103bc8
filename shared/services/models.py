"""A model version was registered: check its gate and start a rollout."""

from __future__ import annotations

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import ModelRegistered
from shared.domain.models import ModelVersion
from shared.domain.validation import check_model_name, check_version
from shared.ports import NotFound, TransientError
from shared.services.deps import Deps
from shared.services.idempotency import DUPLICATE, Handled, already_handled, remember
from shared.services.rollouts import RolloutRequest, advance_or_defer, start_rollout


def handle_model_registered(event: ModelRegistered, deps: Deps) -> Handled:
    """Gate the version and start (and take the first step of) its rollout."""
    keys = (f"event:{event.meta.id}", event.business_key)
    target = f"{event.model_name}@{event.model_version}"
    if already_handled(deps.state, keys) is not None:
        _audit(deps, event, target, "duplicate", "already handled")
        return DUPLICATE
    try:
        model = _gated_model(event, deps)
    except Rejected as rejected:
        _audit(deps, event, target, "rejected", rejected.reason)
        remember(deps.state, keys, outcome="rejected", at=deps.clock.now().isoformat())
        raise
    rollout = start_rollout(
        RolloutRequest(
            endpoint=deps.settings.endpoint_name,
            model=model.ref,
            image=None,
            kind="model",
            actor=event.meta.source,
            reason=model.tags.get("gate_reason", "gate passed"),
            correlation_id=event.meta.id,
            idempotency_key=event.business_key,
        ),
        deps,
        supersede=True,  # a newer registered model replaces an in-flight rollout, explicitly
    )
    remember(deps.state, keys, outcome="accepted", at=deps.clock.now().isoformat())
    _audit(deps, event, target, "accepted", f"gate passed; rollout {rollout.id}")
    advance_or_defer(rollout, deps)
    return Handled("accepted", started=rollout.id)


def _gated_model(event: ModelRegistered, deps: Deps) -> ModelVersion:
    check_model_name(event.model_name)
    check_version(event.model_version)
    if event.model_name != deps.settings.model_name:
        raise Rejected(f"model {event.model_name!r} is not the model this app serves")
    # Tags in the event are a hint: the registry is the source of truth.
    try:
        model = deps.platform.get_model(event.model_name, event.model_version)
    except NotFound:
        raise TransientError(
            f"model {event.model_name}:{event.model_version} not found yet"
        ) from None
    check_gate(model, deps)
    return model


def check_gate(model: ModelVersion, deps: Deps) -> None:
    """Only gate=passed versions that also meet the absolute floors are deployed."""
    gate = model.tags.get("gate")
    if gate is None:
        raise Rejected("model has no gate tag; it was not produced by the training job")
    if gate != "passed":
        raise Rejected(f"gate={gate[:20]}: {model.tags.get('gate_reason', 'no reason')[:200]}")
    floors = {"accuracy": deps.settings.min_accuracy, "f1": deps.settings.min_f1}
    for metric, floor in floors.items():
        try:
            value = float(model.tags.get(metric, "nan"))
        except ValueError:
            raise Rejected(f"model tag {metric} is not a number") from None
        if not value >= floor:  # also catches NaN
            raise Rejected(f"{metric} {value:.4f} is below the floor {floor:.4f}")


def _audit(deps: Deps, event: ModelRegistered, target: str, outcome: Outcome, reason: str) -> None:
    deps.audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="model.registered",
            target=target,
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details={"tags": dict(event.tags)},
        )
    )
