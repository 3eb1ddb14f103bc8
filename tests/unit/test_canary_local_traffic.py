"""The local live-traffic source: the router's request records, read back as samples."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.adapters.local import platform_db
from shared.adapters.local.live_traffic import LocalLiveTraffic, nearest_rank
from shared.adapters.local.platform_db import PlatformDB
from shared.domain.canary import TrafficSample

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()


def record(
    db: PlatformDB,
    deployment: str,
    at: float,
    latency_ms: float,
    *,
    error: bool = False,
    client_error: bool = False,
    routed: bool = True,
) -> None:
    db.count_request(
        "ep",
        deployment,
        error=error,
        client_error=client_error,
        at=at,
        latency_ms=latency_ms,
        routed=routed,
    )


def window(start: float, end: float) -> tuple[datetime, datetime]:
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


def test_a_sample_counts_the_routed_requests_in_the_window_only(tmp_path: Path) -> None:
    db = PlatformDB(tmp_path / "platform.db")
    for i in range(10):
        record(db, "green", T0 + i, 10.0 + i, error=i in (3, 7))
    record(db, "green", T0 + 4, 5.0, client_error=True)  # the caller's fault: not an error
    record(db, "green", T0 + 5, 999.0, error=True, routed=False)  # a probe (the smoke test)
    record(db, "green", T0 - 1, 999.0, error=True)  # before the window
    record(db, "green", T0 + 60, 999.0, error=True)  # at its end: [start, end)
    record(db, "blue", T0 + 1, 999.0, error=True)  # another deployment

    sample = LocalLiveTraffic(db).deployment_sample("ep", "green", *window(T0, T0 + 60))

    assert sample == TrafficSample(requests=11, errors=2, p95_ms=19.0)


def test_no_traffic_is_a_zero_sample(tmp_path: Path) -> None:
    live = LocalLiveTraffic(PlatformDB(tmp_path / "platform.db"))
    assert live.deployment_sample("ep", "green", *window(T0, T0 + 60)) == TrafficSample(0, 0, None)


@pytest.mark.parametrize(
    ("values", "p95"),
    [([], None), ([4.0], 4.0), ([1.0, 2.0], 2.0), ([float(v) for v in range(1, 101)], 95.0)],
)
def test_the_p95_is_the_nearest_rank(values: list[float], p95: float | None) -> None:
    assert nearest_rank(values, 0.95) == p95


def test_old_request_records_are_pruned_as_new_ones_arrive(tmp_path: Path) -> None:
    db = PlatformDB(tmp_path / "platform.db")
    old = T0 - platform_db.REQUEST_RETENTION_SECONDS - 1
    record(db, "green", old, 1.0)
    record(db, "green", T0, 1.0)  # the newer record prunes what is past retention
    assert db.routed_requests("ep", "green", old - 1, T0 + 1) == [(False, False, 1.0)]
