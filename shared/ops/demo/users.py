"""The demo's users: requests through the endpoint while a canary bakes.

A canary is judged on what users saw from it as well as on the smoke set, so the demo sends
traffic the way users would: through the endpoint, routed by its traffic weights, never to a
deployment by name. What they get back (an answer or an error) is what the local router
records, and what the canary step reads.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import cycle
from typing import TYPE_CHECKING, Any

from shared.domain.rollout import Phase, Rollout
from shared.ports import MLPlatform, TransientError

if TYPE_CHECKING:
    from shared.adapters.local.ml_platform import LocalMLPlatform

# The demo's canary: a 2 s bake, then judged once users have sent it 10 requests (at most
# 2 minutes); decision 229.
DEMO_CANARY: dict[str, Any] = {
    "canary_seconds": 2.0,
    "canary_max_seconds": 120.0,
    "canary_min_requests": 10,
    # The demo shows the error check. Its few requests make a p95 their slowest one, which on a
    # loaded machine (CI's two cores) a single cold request would decide: latency gets slack.
    "canary_max_p95_slack_ms": 2000.0,
}

MESSAGES = (
    "Are we still on for lunch tomorrow?",
    "FREE entry! Text WIN to 80086 to claim your £500 voucher now",
    "The train is late again, start without me",
    "Your parcel is held: pay the £1.99 fee at http://parcel-fee.example to release it",
    "Thanks for yesterday, it was lovely to see you",
)


@dataclass
class Users:
    """Sends ``per_turn`` requests each time it is called while ``active()`` names a rollout
    in its canary; counts, per rollout, what was sent and what failed."""

    platform: MLPlatform
    endpoint: str
    active: Callable[[], Rollout | None]
    say: Callable[[str], None]
    per_turn: int = 30
    seen: dict[str, list[int]] = field(default_factory=dict)  # rollout id -> [sent, failed]
    _texts: Any = field(default_factory=lambda: cycle(MESSAGES))

    def visit(self) -> None:
        rollout = self.active()
        if rollout is None or rollout.phase is not Phase.CANARY:
            return
        if rollout.id not in self.seen:
            self.say(
                f"  users: {self.per_turn} requests through {self.endpoint} on every turn while"
                f" {rollout.colour} ({rollout.model}) takes its canary share"
            )
        counts = self.seen.setdefault(rollout.id, [0, 0])
        for _ in range(self.per_turn):
            counts[0] += 1
            try:
                self.platform.invoke(self.endpoint, {"data": [next(self._texts)]})
            except (TransientError, ValueError):
                counts[1] += 1


def kill_canary(
    platform: LocalMLPlatform, rollout: Rollout, percent: int, say: Callable[[str], None]
) -> str:
    """The fault, injected in the open: SIGKILL to the canary's azmlinfsrv process group, as
    the kernel's OOM killer would end a container. Nothing tells the app; its canary check has
    to find out from what users saw. Returns the deployment it killed."""
    pid = platform.deployment_stats(rollout.endpoint, rollout.colour)["pid"]
    say(
        f"  FAULT INJECTED by the demo: SIGKILL to the azmlinfsrv process group of"
        f" {rollout.endpoint}/{rollout.colour} (pid {pid}: {rollout.model}, {percent}% canary)"
    )
    os.killpg(pid, signal.SIGKILL)
    return rollout.colour
