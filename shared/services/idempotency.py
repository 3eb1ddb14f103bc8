"""At-least-once delivery: remember event ids and business keys that were handled."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from shared.ports import ConcurrencyConflict, StateStore

KIND = "handled"


@dataclass(frozen=True)
class Handled:
    """What an event handler did: accepted (with what it started) or duplicate."""

    outcome: str
    started: str = ""  # the window or rollout the event fed
    reason: str = ""


DUPLICATE = Handled("duplicate", reason="already handled")


def _key(raw: str) -> str:
    # Table keys forbid '/', '#', '?' and are bounded: store a digest, keep the raw in the value.
    return hashlib.sha256(raw.encode()).hexdigest()


def already_handled(state: StateStore, keys: Iterable[str]) -> str | None:
    """The first key already recorded, or None."""
    for raw in keys:
        if state.get(KIND, _key(raw)) is not None:
            return raw
    return None


def remember(state: StateStore, keys: Iterable[str], *, outcome: str, at: str) -> None:
    """Record keys after the (idempotent) effect, so a crash in between only repeats it."""
    for raw in keys:
        try:
            state.put(KIND, _key(raw), {"key": raw, "outcome": outcome, "at": at}, etag=None)
        except ConcurrencyConflict:
            continue  # a concurrent delivery recorded it first
