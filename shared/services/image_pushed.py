"""A serving image was pushed: roll it forward, by digest, through the same rollout.

An ImagePushed event is only a claim that a digest was pushed. Before any rollout the app
asks the registry, with its own identity, for that manifest in that repository, and what it
remembers and deploys is the registry's answer. A digest the registry does not hold there is
stale or forged: rejected with the claim and the registry's answer in the audit record and
remembered nowhere, so the real push's event, when it comes, is not a duplicate. A registry
that cannot be asked (down, throttled, or the identity lacks AcrPull) raises, and Event Grid
delivers the event again.
"""

from __future__ import annotations

from typing import Any

from shared.domain.audit import AuditEntry, Outcome
from shared.domain.errors import Rejected
from shared.domain.events import ImagePushed, clip
from shared.domain.validation import check_image_event
from shared.domain.values import ModelRef
from shared.ports import (
    AuditSink,
    Clock,
    ContainerRegistry,
    LiveTraffic,
    Manifest,
    MLPlatform,
    NotFound,
    StateStore,
)
from shared.services.config import ServiceSettings
from shared.services.idempotency import DUPLICATE, Handled, already_handled, remember
from shared.services.rollout_requests import RolloutPorts, RolloutRequest
from shared.services.rollouts import advance_or_defer, start_rollout


class NotInRegistry(Rejected):
    """The event names a manifest the registry does not hold in that repository."""

    def __init__(self, reason: str, claimed: dict[str, Any], stored: dict[str, Any] | None):
        super().__init__(reason, field="data.target.digest")
        self.claimed = claimed
        self.stored = stored


def handle_image_pushed(
    event: ImagePushed,
    *,
    registry: ContainerRegistry,
    platform: MLPlatform,
    state: StateStore,
    audit: AuditSink,
    clock: Clock,
    settings: ServiceSettings,
    smoke_set: tuple[tuple[str, str], ...],
    traffic: LiveTraffic | None,
) -> Handled:
    """Accept one ImagePushed event. Raises Rejected (audited here), TransientError or
    AccessDenied (both redelivered)."""
    ports = RolloutPorts(
        platform=platform,
        state=state,
        audit=audit,
        clock=clock,
        settings=settings,
        smoke_set=smoke_set,
        traffic=traffic,
    )
    # Only keys of images the registry confirmed are ever remembered, so a remembered key
    # needs no second question to the registry.
    keys = (f"event:{event.meta.id}", event.business_key)
    if already_handled(state, keys) is not None:
        _audit(audit, event, "duplicate", "already handled")
        return DUPLICATE
    try:
        manifest = _as_stored(event, registry, settings)
    except NotInRegistry as lie:
        _audit(audit, event, "rejected", lie.reason, claimed=lie.claimed, stored=lie.stored)
        raise
    except Rejected as rejected:  # judged on the event's claims alone: nothing remembered
        _audit(audit, event, "rejected", rejected.reason)
        raise
    keys = (f"event:{event.meta.id}", f"image:{manifest.image}")
    try:
        serving = _serving_model(platform, settings.endpoint_name)
    except Rejected as rejected:  # a real image, but nothing to roll onto it
        _audit(audit, event, "rejected", rejected.reason, manifest=manifest)
        remember(state, keys, outcome="rejected", at=clock.now().isoformat())
        raise
    rollout = start_rollout(
        RolloutRequest(
            endpoint=settings.endpoint_name,
            model=serving,
            image=manifest.image,
            kind="image",
            actor=event.meta.source,
            reason=f"serving image {manifest.repository} pushed",
            correlation_id=event.meta.id,
            idempotency_key=keys[1],
        ),
        ports,
        supersede=True,
    )
    remember(state, keys, outcome="accepted", at=clock.now().isoformat())
    _audit(
        audit,
        event,
        "accepted",
        f"rolling {serving} forward on the new image; {rollout.id}",
        manifest=manifest,
    )
    advance_or_defer(rollout, ports)
    return Handled("accepted", started=rollout.id)


def _as_stored(
    event: ImagePushed, registry: ContainerRegistry, settings: ServiceSettings
) -> Manifest:
    """The event's own checks (before the app's token goes anywhere), then the registry's
    description of the manifest, which must name the same digest."""
    check_image_event(
        event,
        allowed_registries=settings.allowed_registries,
        allowed_repositories=settings.allowed_repositories,
    )
    host = event.registry.lower()
    claimed = {"registry": host, "repository": event.repository, "digest": event.digest}
    try:
        manifest = registry.manifest(host, event.repository, event.digest)
    except NotFound:
        raise NotInRegistry(
            f"the registry holds no manifest {event.digest} in {event.repository} "
            "(stale or forged)",
            claimed,
            None,
        ) from None
    except ValueError as error:  # the adapter refused the name before asking
        raise Rejected(clip(str(error), 200), field="data.target") from None
    stored = {
        "registry": manifest.registry,
        "repository": manifest.repository,
        "digest": manifest.digest,
    }
    if stored != claimed:
        said = ", ".join(
            f"{name} {clip(claimed[name], 80)}, the registry {clip(str(stored[name]), 80)}"
            for name in claimed
            if claimed[name] != stored[name]
        )
        raise NotInRegistry(
            f"event disagrees with the registry (stale or forged): {said}", claimed, stored
        )
    return manifest


def _serving_model(platform: MLPlatform, endpoint_name: str) -> ModelRef:
    try:
        endpoint = platform.get_endpoint(endpoint_name)
    except NotFound:
        raise Rejected(f"endpoint {endpoint_name} does not exist yet; nothing to roll") from None
    if endpoint.serving is None:
        raise Rejected(f"endpoint {endpoint_name} serves no model yet; nothing to roll")
    return platform.get_deployment(endpoint_name, endpoint.serving).model


def _audit(
    audit: AuditSink,
    event: ImagePushed,
    outcome: Outcome,
    reason: str,
    *,
    manifest: Manifest | None = None,
    **details: Any,
) -> None:
    """The event's claims (tag and media type are never more than that), and the registry's
    facts once they are known."""
    facts: dict[str, Any] = {"tag": event.tag[:128], "media_type": event.media_type[:128]}
    if manifest is not None:
        facts["registry"] = {"created": manifest.created[:64], "size": manifest.size}
    audit.append(
        AuditEntry(
            actor=event.meta.source,
            action="image.pushed",
            target=(manifest.image if manifest else event.image)[:300],
            outcome=outcome,
            reason=reason,
            correlation_id=event.meta.id,
            details={**facts, **details},
        )
    )
