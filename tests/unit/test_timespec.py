"""Times as operators type them, always in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.ops.cli.timespec import BadTime, parse_duration, parse_when

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2h", NOW - timedelta(hours=2)),
        ("90s", NOW - timedelta(seconds=90)),
        ("1.5d", NOW - timedelta(days=1.5)),
        ("10:02", datetime(2026, 11, 26, 10, 2, tzinfo=UTC)),
        ("9:02:30", datetime(2026, 11, 26, 9, 2, 30, tzinfo=UTC)),
        ("2026-11-25T23:59", datetime(2026, 11, 25, 23, 59, tzinfo=UTC)),
        ("2026-11-26T10:02+01:00", datetime(2026, 11, 26, 9, 2, tzinfo=UTC)),
    ],
)
def test_times(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "25:00", "2h ago", "", "-1h"])
def test_bad_times_are_named(text: str) -> None:
    with pytest.raises(BadTime, match=repr(text.strip())):
        parse_when(text, NOW)


def test_durations() -> None:
    assert parse_duration("5m") == timedelta(minutes=5)
    with pytest.raises(BadTime, match="not a duration: '5'"):
        parse_duration("5")
