"""A serving image was pushed: roll it forward, by digest, through the same rollout."""

from __future__ import annotations

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import ImagePushed
from shared.domain.models import ModelRef
from shared.domain.validation import check_image_event
from shared.ports import NotFound
from shared.services.deps import Deps
from shared.services.idempotency import DUPLICATE, Handled, already_handled, remember
from shared.services.rollouts import RolloutRequest, advance_or_defer, start_rollout


def handle_image_pushed(event: ImagePushed, deps: Deps) -> Handled:
    keys = (f"event:{event.meta.id}", event.business_key)
    if already_handled(deps.state, keys) is not None:
        _audit(deps, event, "duplicate", "already handled")
        return DUPLICATE
    try:
        check_image_event(
            event,
            allowed_registries=deps.settings.allowed_registries,
            allowed_repositories=deps.settings.allowed_repositories,
        )
        serving = _serving_model(deps)
    except Rejected as rejected:
        _audit(deps, event, "rejected", rejected.reason)
        remember(deps.state, keys, outcome="rejected", at=deps.clock.now().isoformat())
        raise
    rollout = start_rollout(
        RolloutRequest(
            endpoint=deps.settings.endpoint_name,
            model=serving,
            image=event.image,
            kind="image",
            actor=event.meta.source,
            reason=f"serving image {event.repository} pushed",
            correlation_id=event.meta.id,
            idempotency_key=event.business_key,
        ),
        deps,
        supersede=True,
    )
    remember(deps.state, keys, outcome="accepted", at=deps.clock.now().isoformat())
    _audit(deps, event, "accepted", f"rolling {serving} forward on the new image; {rollout.id}")
    advance_or_defer(rollout, deps)
    return Handled("accepted", started=rollout.id)


def _serving_model(deps: Deps) -> ModelRef:
    endpoint_name = deps.settings.endpoint_name
    try:
        endpoint = deps.platform.get_endpoint(endpoint_name)
    except NotFound:
        raise Rejected(f"endpoint {endpoint_name} does not exist yet; nothing to roll") from None
    if endpoint.serving is None:
        raise Rejected(f"endpoint {endpoint_name} serves no model yet; nothing to roll")
    return deps.platform.get_deployment(endpoint_name, endpoint.serving).model


def _audit(deps: Deps, event: ImagePushed, outcome: Outcome, reason: str) -> None:
    deps.audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="image.pushed",
            target=event.image[:300],
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details={"tag": event.tag[:128], "media_type": event.media_type[:128]},
        )
    )
