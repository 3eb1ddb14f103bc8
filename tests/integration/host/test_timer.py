"""The NCRONTAB subset the host schedules timer functions with, and the runner thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.devhost.timer import Schedule, TimerRunner, every, resolve_setting
from shared.settings import Settings

T0 = datetime(2026, 11, 26, 10, 15, 30, 500000, tzinfo=UTC)  # a Thursday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 */1 * * * *", datetime(2026, 11, 26, 10, 16, 0, tzinfo=UTC)),
        ("*/10 * * * * *", datetime(2026, 11, 26, 10, 15, 40, tzinfo=UTC)),
        ("0 0 * * * *", datetime(2026, 11, 26, 11, 0, 0, tzinfo=UTC)),
        ("0 30 9 * * *", datetime(2026, 11, 27, 9, 30, 0, tzinfo=UTC)),
        ("0 0 9-17/4 * * *", datetime(2026, 11, 26, 13, 0, 0, tzinfo=UTC)),
        ("0 0 0 * * 1", datetime(2026, 11, 30, 0, 0, 0, tzinfo=UTC)),  # next Monday
        ("0 0 0 * * 0", datetime(2026, 11, 29, 0, 0, 0, tzinfo=UTC)),  # Sunday
        ("0 0 0 1 1 *", datetime(2027, 1, 1, 0, 0, 0, tzinfo=UTC)),
        ("0 0 0 29 2 *", datetime(2028, 2, 29, 0, 0, 0, tzinfo=UTC)),
        ("0 5,35 10 * * *", datetime(2026, 11, 26, 10, 35, 0, tzinfo=UTC)),
        ("15/20 * * * * *", datetime(2026, 11, 26, 10, 15, 35, tzinfo=UTC)),
        ("0 0 0 1 * 1", datetime(2027, 2, 1, 0, 0, 0, tzinfo=UTC)),  # day AND weekday
    ],
)
def test_next_fire_time(expression: str, expected: datetime) -> None:
    assert Schedule.parse(expression).next_after(T0) == expected


def test_a_firing_time_is_strictly_after() -> None:
    exactly = datetime(2026, 11, 26, 10, 16, 0, tzinfo=UTC)
    assert Schedule.parse("0 * * * * *").next_after(exactly) == exactly.replace(minute=17)


@pytest.mark.parametrize(
    "expression",
    ["* * * *", "60 * * * * *", "0 0 24 * * *", "0 0 0 * * 7", "00:05:00"],  # more: test_ncrontab
)
def test_what_is_not_supported_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="NCRONTAB"):
        Schedule.parse(expression)


def test_app_settings_resolve_from_the_environment_then_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = Settings()
    assert resolve_setting("%MLOPS_RECONCILE_SCHEDULE%", settings) == "0 */1 * * * *"
    monkeypatch.setenv("MLOPS_RECONCILE_SCHEDULE", "*/5 * * * * *")
    assert resolve_setting("%MLOPS_RECONCILE_SCHEDULE%", settings) == "*/5 * * * * *"
    assert resolve_setting("0 0 * * * *", settings) == "0 0 * * * *"
    with pytest.raises(ValueError, match="MLOPS_NOT_A_SETTING"):
        resolve_setting("%MLOPS_NOT_A_SETTING%", settings)


def test_a_failing_tick_is_logged_and_the_next_one_runs(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[Any] = []
    twice = threading.Event()

    def flaky(timer: Any) -> None:
        calls.append(timer)
        if len(calls) == 1:
            raise RuntimeError("first tick fails")
        twice.set()

    runner = TimerRunner("flaky", flaky, every(0.05), arg_name="timer")
    runner.start()
    assert twice.wait(5)
    runner.stop()
    assert "timer function flaky failed" in caplog.text
    assert calls[1].schedule_status["Last"] and not calls[1].past_due
