"""The local endpoints' live traffic: what the router recorded for each request it routed.

The stand-in for the Azure Monitor metrics the Azure adapter reads (endpoint_metrics.py):
LocalEndpoints.invoke records every request with its outcome and latency in the platform
database; this reads back those the endpoint routed by its traffic weights (not the smoke
test's, which name the deployment) and computes the same three numbers exactly.
"""

from __future__ import annotations

import math
from datetime import datetime

from shared.adapters.local.platform_db import PlatformDB
from shared.domain.canary import TrafficSample


class LocalLiveTraffic:
    """Implements ``LiveTraffic`` over the local platform's request records."""

    def __init__(self, db: PlatformDB) -> None:
        self._db = db

    def deployment_sample(
        self, endpoint: str, deployment: str, start: datetime, end: datetime
    ) -> TrafficSample:
        rows = self._db.routed_requests(endpoint, deployment, start.timestamp(), end.timestamp())
        latencies = sorted(latency for _, _, latency in rows)
        return TrafficSample(
            requests=len(rows),
            errors=sum(1 for error, _, _ in rows if error),
            p95_ms=nearest_rank(latencies, 0.95),
        )


def nearest_rank(ordered: list[float], quantile: float) -> float | None:
    """The nearest-rank percentile of ``ordered`` (ascending): the smallest value with at
    least ``quantile`` of the values at or below it; None for no values."""
    if not ordered:
        return None
    return ordered[max(math.ceil(quantile * len(ordered)) - 1, 0)]
