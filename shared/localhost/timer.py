"""Timer triggers for the local host: a six-field NCRONTAB schedule and a runner thread.

Supported subset of NCRONTAB (``{second} {minute} {hour} {day} {month} {day-of-week}``, UTC as
in Azure by default): ``*``, numbers, lists ``a,b``, ranges ``a-b`` and steps ``*/n``,
``a-b/n``, ``a/n``. Day of week is 0-6 from Sunday (7 is Sunday too). When both day fields
are restricted either may match, as in cron. Names (``Mon``, ``Jan``) and the ``hh:mm:ss``
TimeSpan form are not supported and are refused when the host starts.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest

log = logging.getLogger("mlops.host.timer")

# (lowest, highest) for second, minute, hour, day, month, day of week.
_BOUNDS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_SETTING = re.compile(r"^%([A-Za-z0-9_]+)%$")


@dataclass(frozen=True)
class Schedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        fields = expression.split()
        if len(fields) != 6:
            raise ValueError(f"NCRONTAB needs 6 fields, got {len(fields)}: {expression!r}")
        second, minute, hour, day, month, weekday = (
            _field(text, low, high) for text, (low, high) in zip(fields, _BOUNDS, strict=True)
        )
        weekdays = frozenset(0 if value == 7 else value for value in weekday)
        return cls(second, minute, hour, day, month, weekdays, fields[3] == "*", fields[5] == "*")

    def next_after(self, moment: datetime) -> datetime:
        """The first firing time strictly after ``moment`` (whole seconds, UTC)."""
        at = moment.astimezone(UTC).replace(microsecond=0) + timedelta(seconds=1)
        limit = at + timedelta(days=366 * 5)
        while at < limit:
            if at.month not in self.months:
                at = _next_month(at)
            elif not self._day_matches(at):
                at = at.replace(hour=0, minute=0, second=0) + timedelta(days=1)
            elif at.hour not in self.hours:
                at = at.replace(minute=0, second=0) + timedelta(hours=1)
            elif at.minute not in self.minutes:
                at = at.replace(second=0) + timedelta(minutes=1)
            elif at.second not in self.seconds:
                at += timedelta(seconds=1)
            else:
                return at
        raise ValueError("the schedule never fires")

    def _day_matches(self, at: datetime) -> bool:
        by_day = at.day in self.days
        by_weekday = (at.weekday() + 1) % 7 in self.weekdays  # Python: Monday=0
        if self.any_day or self.any_weekday:
            return by_day and by_weekday
        return by_day or by_weekday


def resolve_setting(value: str, settings: Any) -> str:
    """``%NAME%`` → the app setting NAME: the environment first, as in Azure, then the
    default of the matching ``Settings`` field (``MLOPS_X`` → ``x``)."""
    match = _SETTING.match(value.strip())
    if not match:
        return value
    name = match.group(1)
    if name in os.environ:
        return os.environ[name]
    field = name.lower().removeprefix("mlops_")
    resolved = getattr(settings, field, None)
    if resolved is None:
        raise ValueError(f"app setting {name} is not defined")
    return str(resolved)


class BackgroundLoop:
    """A daemon thread running ``_loop`` until ``stop()``, which waits for the round in
    progress (the host's timers and its event pump)."""

    def __init__(self, thread_name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        raise NotImplementedError


class TimerRunner(BackgroundLoop):
    """Calls one timer function on its schedule in a daemon thread; a failing tick is
    logged and the next one runs as planned. ``stop()`` waits for a running tick."""

    def __init__(
        self,
        name: str,
        function: Callable[..., Any],
        next_fire: Callable[[datetime], datetime],
        *,
        arg_name: str = "timer",
        run_on_startup: bool = False,
    ) -> None:
        self.name = name
        self._function = function
        self._next_fire = next_fire
        self._arg_name = arg_name
        self._run_on_startup = run_on_startup
        super().__init__(f"timer-{name}")

    def _loop(self) -> None:
        last: datetime | None = None
        due = datetime.now(UTC) if self._run_on_startup else self._next_fire(datetime.now(UTC))
        while not self._stop.wait(max(0.0, (due - datetime.now(UTC)).total_seconds())):
            following = self._next_fire(max(due, datetime.now(UTC)))
            self._tick(due, last, following)
            last, due = due, following

    def _tick(self, due: datetime, last: datetime | None, following: datetime) -> None:
        late = datetime.now(UTC) - due
        status: Mapping[str, str] = {
            "Last": last.isoformat() if last else "",
            "Next": following.isoformat(),
            "LastUpdated": datetime.now(UTC).isoformat(),
        }
        timer = TimerRequest(past_due=late > timedelta(seconds=30), schedule_status=dict(status))
        try:
            self._function(**{self._arg_name: timer})
        except Exception:  # the next tick must still run, as in the Functions host
            log.exception("timer function %s failed", self.name)


def every(seconds: float) -> Callable[[datetime], datetime]:
    """A fixed interval (``mlops serve --reconcile-every``) in place of the NCRONTAB."""
    return lambda moment: moment + timedelta(seconds=seconds)


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    try:
        for part in text.split(","):
            values.update(_part(part, low, high))
    except ValueError:
        raise ValueError(f"NCRONTAB field {text!r}: numbers {low}-{high}, *, a-b, /n") from None
    return frozenset(values)


def _part(part: str, low: int, high: int) -> range:
    span, _, step_text = part.partition("/")
    step = int(step_text) if step_text else 1
    if span == "*":
        start, end = low, high
    elif "-" in span:
        first, _, last = span.partition("-")
        start, end = int(first), int(last)
    else:
        start = int(span)
        end = high if step_text else start
    if step < 1 or not low <= start <= end <= high:
        raise ValueError(part)
    return range(start, end + 1, step)


def _next_month(at: datetime) -> datetime:
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
