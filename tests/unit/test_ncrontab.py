"""NCRONTAB as Azure Functions reads it (the NCrontab library through webjobs-sdk-extensions'
CronSchedule): the examples Learn documents, NCrontab's field grammar, day of week 0-6 with
names, and the day of month AND the day of week; ``%SETTING%`` as the WebJobs name resolver
resolves it."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.devhost.functions_registry import Refused
from shared.devhost.timer import Schedule, resolve_setting, schedule_of
from shared.settings import Settings

T0 = datetime(2026, 11, 26, 10, 15, 30, tzinfo=UTC)  # a Thursday


def firings(expression: str, count: int, start: datetime = T0) -> list[str]:
    schedule, out, at = Schedule.parse(expression), [], start
    for _ in range(count):
        at = schedule.next_after(at)
        out.append(at.strftime("%a %Y-%m-%d %H:%M:%S"))
    return out


# Learn, "Timer trigger for Azure Functions", NCRONTAB expressions and NCRONTAB examples.
@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("0 5 * * * *", ["Thu 2026-11-26 11:05:00", "Thu 2026-11-26 12:05:00"]),
        ("0 * 5 * * *", ["Fri 2026-11-27 05:00:00", "Fri 2026-11-27 05:01:00"]),
        ("5-7 * * * * *", ["Thu 2026-11-26 10:16:05", "Thu 2026-11-26 10:16:06"]),
        ("5,8,10 * * * * *", ["Thu 2026-11-26 10:16:05", "Thu 2026-11-26 10:16:08"]),
        ("0 */5 * * * *", ["Thu 2026-11-26 10:20:00", "Thu 2026-11-26 10:25:00"]),
        ("0 0 * * * *", ["Thu 2026-11-26 11:00:00", "Thu 2026-11-26 12:00:00"]),
        ("0 0 */2 * * *", ["Thu 2026-11-26 12:00:00", "Thu 2026-11-26 14:00:00"]),
        ("0 0 9-17 * * *", ["Thu 2026-11-26 11:00:00", "Thu 2026-11-26 12:00:00"]),
        ("0 30 9 * * *", ["Fri 2026-11-27 09:30:00", "Sat 2026-11-28 09:30:00"]),
        ("0 30 9 * * 1-5", ["Fri 2026-11-27 09:30:00", "Mon 2026-11-30 09:30:00"]),
        ("0 30 9 * Jan Mon", ["Mon 2027-01-04 09:30:00", "Mon 2027-01-11 09:30:00"]),
    ],
)
def test_learns_examples(expression: str, expected: list[str]) -> None:
    assert firings(expression, len(expected)) == expected


def test_every_hour_from_9_to_5_wraps_to_the_next_morning() -> None:
    assert firings("0 0 9-17 * * *", 8)[-2:] == [
        "Thu 2026-11-26 17:00:00",
        "Fri 2026-11-27 09:00:00",
    ]


@pytest.mark.parametrize(
    "expression",
    ["0 0 0 * * 0", "0 0 0 * * Sun", "0 0 0 * * sunday", "0 0 0 * * SU", "0 0 0 * * S"],
)
def test_day_of_week_0_is_sunday_and_names_are_prefixes_in_any_case(expression: str) -> None:
    assert firings(expression, 1) == ["Sun 2026-11-29 00:00:00"]


def test_day_of_month_and_day_of_week_must_both_match() -> None:
    """NCrontab CrontabSchedule.TryGetNextOccurrence finds the day, then checks the weekday
    and moves on if it does not match: a Friday the 13th, not every Friday and every 13th."""
    assert firings("0 0 0 13 * Fri", 2) == ["Fri 2027-08-13 00:00:00", "Fri 2028-10-13 00:00:00"]
    assert firings("0 0 0 1 * 1", 1) == ["Mon 2027-02-01 00:00:00"]


@pytest.mark.parametrize(
    ("expression", "same_as"),
    [
        ("*/5 * * * *", "0 */5 * * * *"),  # five fields: no seconds, as CronSchedule.HasSeconds
        ("0 0 0 * * 5-1", "0 0 0 * * 1-5"),  # a reversed range is swapped
        ("0 0 */0 * * *", "0 0 * * * *"),  # a step below 1 counts as 1
        ("0 0 10/6 * * *", "0 0 10,16,22 * * *"),  # a/n: from a to the highest value
        ("0 0 0 * Mar-May Mon,Wed-Fri", "0 0 0 * 3-5 1,3-5"),
        ("0  0   0 * * *", "0 0 0 * * *"),  # repeated spaces
        ("0 0 0 * * Tu", "0 0 0 * * 2"),  # the first name with that prefix
        ("0 0 0 * * T", "0 0 0 * * 2"),
        ("0 0 0 * Ju *", "0 0 0 * 6 *"),
        ("00 05 * * * *", "0 5 * * * *"),
    ],
)
def test_ncrontab_grammar(expression: str, same_as: str) -> None:
    assert Schedule.parse(expression) == Schedule.parse(same_as)


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 0 * * 7",  # day of week is 0-6 in NCrontab
        "* * * *",
        "* * * * * * *",
        "60 * * * * *",
        "0 0 24 * * *",
        "0 0 0 0 * *",
        "0 0 0 32 * *",
        "0 0 0 * 13 *",
        "0 0 0 * * Mondays",
        "0 0 0 * * ?",
        "0 0 0 L * *",
        "0 0 0 * * 1#2",
        "0 0 0 1,,2 * *",
        "0 */ * * * *",
        "0 /5 * * * *",
        "0 -5 * * * *",
        "0 1- * * * *",
        "0 1_0 * * * *",
        "0\t0 0 * * *",  # NCrontab splits on spaces only
        "00:05:00",  # a TimeSpan: App Service plan only
        "",
    ],
)
def test_what_ncrontab_refuses_is_refused(expression: str) -> None:
    with pytest.raises(ValueError, match="NCRONTAB"):
        Schedule.parse(expression)


def test_a_schedule_that_matches_every_firing_it_finds() -> None:
    """Property: the next firing matches every field, and no second before it does."""
    hypothesis: Any = pytest.importorskip("hypothesis")
    st: Any = importlib.import_module("hypothesis.strategies")

    def field(low: int, high: int) -> Any:
        values = st.sets(st.integers(low, high), min_size=1, max_size=4)
        return st.one_of(st.just("*"), values.map(lambda v: ",".join(map(str, sorted(v)))))

    def minute_matches(schedule: Schedule, at: datetime) -> bool:
        return (
            at.minute in schedule.minutes
            and at.hour in schedule.hours
            and at.day in schedule.days
            and (at.weekday() + 1) % 7 in schedule.weekdays
        )

    def check(fields: tuple[str, ...], naive: datetime) -> None:
        second, minute, hour, day, weekday = fields
        schedule = Schedule.parse(f"{second} {minute} {hour} {day} * {weekday}")
        start = naive.replace(tzinfo=UTC, microsecond=0)
        at = schedule.next_after(start)
        assert at > start and at.second in schedule.seconds and minute_matches(schedule, at)
        # Nothing earlier: every minute from start to the firing (three days at most).
        scan = start.replace(second=0)
        while scan <= min(at, start + timedelta(days=3)):
            if minute_matches(schedule, scan):
                earlier = [scan.replace(second=s) for s in schedule.seconds]
                assert not [t for t in earlier if start < t < at]
            scan += timedelta(minutes=1)

    strategy = st.tuples(field(0, 59), field(0, 59), field(0, 23), field(1, 28), field(0, 6))
    starts = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1))
    given = hypothesis.given(strategy, starts)
    hypothesis.settings(max_examples=150, deadline=None)(given(check))()


def test_every_setting_in_a_schedule_is_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MIN", "*/5")
    monkeypatch.setenv("SECOND", "0")
    assert resolve_setting("%SECOND% %MIN% * * * *", Settings()) == "0 */5 * * * *"


def test_a_setting_is_read_from_the_environment_then_the_settings_field_of_that_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert resolve_setting("%MLOPS_RECONCILE_SCHEDULE%", Settings()) == "0 */1 * * * *"
    assert resolve_setting("%AZURE_CLIENT_ID%", Settings(azure_client_id="abc")) == "abc"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        # A field's own name is not an app setting: only MLOPS_<FIELD> (or its alias) is.
        ("%RECONCILE_SCHEDULE%", "'%RECONCILE_SCHEDULE%' does not resolve to a value."),
        ("%BACKEND%", "'%BACKEND%' does not resolve to a value."),
        ("%MLOPS_SUBSCRIPTION_ID%", "'%MLOPS_SUBSCRIPTION_ID%' does not resolve"),  # None
        ("0 %MLOPS_NOT_SET% * * * *", "'%MLOPS_NOT_SET%' does not resolve"),
        ("0 5 %oops * * *", "The '%' at position 4 does not have a closing '%'"),
    ],
)
def test_what_does_not_resolve_is_refused_in_azures_words(
    value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RECONCILE_SCHEDULE", "BACKEND"):  # MLOPS_*: tests/conftest.py clears them
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(Refused) as refused:
        resolve_setting(value, Settings())
    assert str(refused.value).startswith(message)


def test_a_bad_schedule_names_its_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_RECONCILE_SCHEDULE", "0 0 0 * * 7")
    with pytest.raises(Refused, match=r"^function tick: NCRONTAB day-of-week field '7'"):
        schedule_of("tick", "%MLOPS_RECONCILE_SCHEDULE%", Settings())
