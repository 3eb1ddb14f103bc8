"""The Clock contract, on the system clock both backends use and on the tests' fake: the time
is timezone-aware UTC (the audit trail and every window compare it) and never goes back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.adapters.clock import SystemClock
from shared.ports import Clock
from tests.fakes import FakeClock


@pytest.fixture(params=["fake", "system"])
def clock(request: pytest.FixtureRequest) -> Clock:
    return FakeClock() if request.param == "fake" else SystemClock()


def test_the_time_is_timezone_aware_utc(clock: Clock) -> None:
    assert clock.now().utcoffset() == timedelta(0)


def test_the_time_never_goes_back(clock: Clock) -> None:
    first = clock.now()
    assert clock.now() >= first
