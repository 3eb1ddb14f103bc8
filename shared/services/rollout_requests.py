"""What a rollout is asked with: the request, who acts, the ports the engine drives, and the
conflict a second request on a busy endpoint meets (shared/services/rollouts.py runs them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.domain.rollout import Rollout
from shared.domain.values import ModelRef
from shared.ports import AuditSink, Clock, LiveTraffic, MLPlatform, StateStore
from shared.services.config import ServiceSettings


class RolloutConflict(Exception):
    """Another rollout is active on the endpoint and the caller did not ask to supersede it."""

    def __init__(self, active: Rollout) -> None:
        super().__init__(f"rollout {active.id} is already active on {active.endpoint}")
        self.active = active


@dataclass(frozen=True)
class Actor:
    """Who caused an audit record when it is not the rollout's own requester: an operator
    rolling it back, or a newer request superseding it (``details`` carry their reason as
    ``actor_reason``; ``request_reason`` stays the rollout's own)."""

    id: str
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RolloutRequest:
    endpoint: str
    model: ModelRef
    image: str | None
    kind: str
    actor: str
    reason: str
    correlation_id: str
    idempotency_key: str  # same key, same rollout: a redelivered request finds it
    requester: Mapping[str, Any] = field(default_factory=dict)  # audit details of the actor


@dataclass(frozen=True, kw_only=True)
class RolloutPorts:
    """What a rollout's steps touch. A use case that starts or advances rollouts names each
    of these in its own signature and builds this from them (or ``inject(RolloutPorts,
    deps)()`` where a whole Deps is at hand: tests, the composition root)."""

    platform: MLPlatform
    state: StateStore
    audit: AuditSink
    clock: Clock
    settings: ServiceSettings
    smoke_set: tuple[tuple[str, str], ...]
    traffic: LiveTraffic | None
