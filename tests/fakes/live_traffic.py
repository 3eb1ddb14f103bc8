"""LiveTraffic as a test sets it."""

from __future__ import annotations

from datetime import datetime

from shared.domain.canary import TrafficSample


class RecordedLiveTraffic:
    """Live traffic as a test sets it: ``samples[(endpoint, deployment)]`` answers every
    window (none set: no traffic); each question asked is kept in ``asked``. ``failure``,
    when set, is raised instead (a metrics source that is down)."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], TrafficSample] = {}
        self.asked: list[tuple[str, str, datetime, datetime]] = []
        self.failure: Exception | None = None

    def deployment_sample(
        self, endpoint: str, deployment: str, start: datetime, end: datetime
    ) -> TrafficSample:
        self.asked.append((endpoint, deployment, start, end))
        if self.failure is not None:
            raise self.failure
        return self.samples.get((endpoint, deployment), TrafficSample(0, 0, None))
