"""The canary's live check: what users saw from both deployments over the bake time.

The rollout's canary step asks this once the bake time has passed. It reads both
deployments' live samples for [canary start, now) from the ``LiveTraffic`` port and returns
the domain's judgement (shared/domain/canary.py). A source that cannot answer waits for the
next tick, until the cap; a source that refuses the app's identity is a misconfiguration no
tick will fix. Either way the canary is then rolled back rather than left at its share of
traffic, unjudged.
"""

from __future__ import annotations

import logging
from datetime import datetime

from shared.domain.canary import Judgement, Margins, judge
from shared.domain.rollout import Rollout
from shared.ports import AccessDenied, LiveTraffic, TransientError
from shared.services.config import ServiceSettings
from shared.services.probes import ProbeFailed

log = logging.getLogger(__name__)


def margins(settings: ServiceSettings) -> Margins:
    return Margins(
        min_requests=settings.canary_min_requests,
        max_error_rate_excess=settings.canary_max_error_rate_excess,
        max_p95_ratio=settings.canary_max_p95_ratio,
        max_p95_slack_ms=settings.canary_max_p95_slack_ms,
        without_traffic="promote" if settings.canary_without_traffic == "promote" else "roll_back",
    )


def live_judgement(
    rollout: Rollout,
    traffic: LiveTraffic,
    settings: ServiceSettings,
    now: datetime,
    *,
    out_of_time: bool,
) -> Judgement | None:
    """The verdict on the canary's live traffic, or None when the source cannot answer yet
    (the step waits for the next tick). Raises ProbeFailed when the app may not read it."""
    if rollout.previous is None:
        raise ValueError(f"rollout {rollout.id} has no serving deployment to compare with")
    start = datetime.fromisoformat(rollout.phase_since)
    try:
        serving = traffic.deployment_sample(rollout.endpoint, rollout.previous, start, now)
        canary = traffic.deployment_sample(rollout.endpoint, rollout.colour, start, now)
    except AccessDenied as denied:
        raise ProbeFailed(f"live traffic could not be read: {denied}") from None
    except TransientError as error:
        if not out_of_time:
            log.info("rollout %s: live traffic not readable yet: %s", rollout.id, error)
            return None
        raise ProbeFailed(f"live traffic still unreadable at the cap: {error}") from None
    return judge(serving, canary, margins(settings), out_of_time=out_of_time)
