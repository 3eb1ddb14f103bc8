"""The blue/green rollout: a persisted state machine advanced by short idempotent steps.

planned → deploying → smoke_testing → canary → promoted → completed, with rolled_back
reachable from every non-terminal phase, superseded when a newer request replaces it, and
failed when a step meets a permanent error (the rollout is parked; the endpoint is freed).
The first model on an endpoint skips the canary: there is nothing to compare it with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.domain.values import ModelRef

COLOURS = ("blue", "green")


class Phase(StrEnum):
    PLANNED = "planned"
    DEPLOYING = "deploying"
    SMOKE_TESTING = "smoke_testing"
    CANARY = "canary"
    PROMOTED = "promoted"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    SUPERSEDED = "superseded"
    FAILED = "failed"


TERMINAL = frozenset({Phase.COMPLETED, Phase.ROLLED_BACK, Phase.SUPERSEDED, Phase.FAILED})
_ABORT = {Phase.ROLLED_BACK, Phase.SUPERSEDED, Phase.FAILED}
_FORWARD: dict[Phase, frozenset[Phase]] = {
    Phase.PLANNED: frozenset({Phase.DEPLOYING}),
    Phase.DEPLOYING: frozenset({Phase.SMOKE_TESTING}),
    Phase.SMOKE_TESTING: frozenset({Phase.CANARY, Phase.PROMOTED}),
    Phase.CANARY: frozenset({Phase.PROMOTED}),
    Phase.PROMOTED: frozenset({Phase.COMPLETED}),
}


class IllegalTransition(RuntimeError):
    pass


@dataclass(frozen=True)
class Transition:
    time: str
    phase: Phase
    note: str


@dataclass(frozen=True)
class Rollout:
    id: str
    endpoint: str
    model: ModelRef
    image: str | None
    kind: str  # "model", "image", "manual" or "rollback": why it started
    actor: str
    reason: str
    correlation_id: str
    colour: str  # the deployment that receives the new model
    previous: str | None  # the deployment serving when the rollout started
    previous_model: ModelRef | None
    phase: Phase
    phase_since: str
    history: tuple[Transition, ...]

    @property
    def active(self) -> bool:
        return self.phase not in TERMINAL

    @property
    def deployment(self) -> str:
        """endpoint/colour, or just the endpoint before a colour is chosen."""
        return f"{self.endpoint}/{self.colour}" if self.colour else self.endpoint

    def to(self, phase: Phase, now: datetime, note: str) -> Rollout:
        """The rollout after moving to ``phase``; refuses moves the state machine forbids."""
        allowed = _ABORT if phase in _ABORT else _FORWARD.get(self.phase, frozenset())
        if self.phase in TERMINAL or phase not in allowed:
            raise IllegalTransition(f"rollout {self.id}: {self.phase} → {phase} is not allowed")
        stamp = now.isoformat(timespec="seconds")
        step = Transition(stamp, phase, note)
        return replace(self, phase=phase, phase_since=stamp, history=(*self.history, step))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "endpoint": self.endpoint,
            "model": {"name": self.model.name, "version": self.model.version},
            "image": self.image,
            "kind": self.kind,
            "actor": self.actor,
            "reason": self.reason,
            "correlation_id": self.correlation_id,
            "colour": self.colour,
            "previous": self.previous,
            "previous_model": _ref_dict(self.previous_model),
            "phase": self.phase.value,
            "phase_since": self.phase_since,
            "history": [
                {"time": t.time, "phase": t.phase.value, "note": t.note} for t in self.history
            ],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Rollout:
        return cls(
            id=doc["id"],
            endpoint=doc["endpoint"],
            model=ModelRef(doc["model"]["name"], doc["model"]["version"]),
            image=doc["image"],
            kind=doc["kind"],
            actor=doc["actor"],
            reason=doc["reason"],
            correlation_id=doc["correlation_id"],
            colour=doc["colour"],
            previous=doc["previous"],
            previous_model=_ref(doc["previous_model"]),
            phase=Phase(doc["phase"]),
            phase_since=doc["phase_since"],
            history=tuple(
                Transition(t["time"], Phase(t["phase"]), t["note"]) for t in doc["history"]
            ),
        )


def idle_colour(serving: str | None) -> str:
    """The colour a new model goes to: blue first, then whichever is not serving."""
    return COLOURS[1] if serving == COLOURS[0] else COLOURS[0]


def _ref_dict(ref: ModelRef | None) -> dict[str, str] | None:
    return None if ref is None else {"name": ref.name, "version": ref.version}


def _ref(doc: Mapping[str, str] | None) -> ModelRef | None:
    return None if doc is None else ModelRef(doc["name"], doc["version"])
