"""Timer triggers for the local host: NCRONTAB schedules read as Azure reads them, and a
runner thread.

Azure Functions reads a schedule with the NCrontab library (Learn, "Timer trigger for Azure
Functions"; webjobs-sdk-extensions ``CronSchedule.TryCreate``): six fields
``{second} {minute} {hour} {day} {month} {day-of-week}``, or five without the seconds (second
0). Each field: ``*``, a number, a name or any prefix of one (``Jan``, ``Monday``, ``M``), a
range ``a-b`` (reversed ones are swapped), a step ``*/n``, ``a-b/n`` or ``a/n`` (a step below
1 counts as 1), and lists of those. Day of week is 0-6, 0 being Sunday; 7 is refused. A time
matches only when *both* the day of month and the day of week match (NCrontab checks the
weekday after finding the day, unlike cron's either-or). UTC, as in Azure by default. The
``hh:mm:ss`` TimeSpan form runs only on an App Service plan, so it is refused.
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

from shared.devhost.functions_registry import Refused

log = logging.getLogger("mlops.host.timer")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
# NCrontab's CrontabFieldImpl: kind, lowest, highest, names (index 0 is the lowest value).
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("second", 0, 59, ()),
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day-of-week", 0, 6, _DAYS),
)
_NUMBER = re.compile(r"[0-9]+")
_STEP = re.compile(r"[+-]?[0-9]+")  # what .NET int.Parse takes here


@dataclass(frozen=True)
class Schedule:
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]

    @classmethod
    def parse(cls, expression: str) -> Schedule:
        """The schedule, or ``ValueError`` saying which field NCrontab would refuse."""
        tokens = [token for token in expression.split(" ") if token]  # spaces only, as NCrontab
        if len(tokens) == 5:
            tokens.insert(0, "0")
        if len(tokens) != 6:
            timespan = " (a TimeSpan runs only on an App Service plan)" if ":" in expression else ""
            raise ValueError(
                f"NCRONTAB needs 6 fields (or 5 without seconds), got {len(tokens)}: "
                f"{expression!r}{timespan}"
            )
        seconds, minutes, hours, days, months, weekdays = (
            _field(token, *spec) for token, spec in zip(tokens, _FIELDS, strict=True)
        )
        return cls(seconds, minutes, hours, days, months, weekdays)

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
        # Both, as NCrontab: the day of month, then the day of week (Python: Monday=0).
        return at.day in self.days and (at.weekday() + 1) % 7 in self.weekdays


def schedule_of(function: str, expression: str, settings: Any) -> Schedule:
    """A timer function's schedule with its ``%SETTING%``s resolved; ``Refused`` naming the
    function where the Functions host would not index it."""
    try:
        return Schedule.parse(resolve_setting(expression, settings))
    except ValueError as why:
        raise Refused(f"function {function}: {why}") from None


def resolve_setting(value: str, settings: Any) -> str:
    """Every ``%NAME%`` in ``value`` → the app setting NAME, as the WebJobs SDK's
    ``NameResolverExtensions.ResolveWholeString`` does, with its error messages. NAME is read
    from the environment, as in Azure, else from the ``Settings`` field read from NAME (the
    local stand-in for local.settings.json); a name neither defines does not resolve."""
    parts, at = [], 0
    while (start := value.find("%", at)) >= 0:
        end = value.find("%", start + 1)
        if end < 0:
            raise Refused(f"The '%' at position {start} does not have a closing '%'")
        name = value[start + 1 : end]
        resolved = _app_setting(name, settings)
        if resolved is None:
            raise Refused(f"'%{name}%' does not resolve to a value.")
        parts += [value[at:start], resolved]
        at = end + 1
    return "".join([*parts, value[at:]])


def _app_setting(name: str, settings: Any) -> str | None:
    if name in os.environ:
        return os.environ[name]
    model = type(settings)
    prefix = str(getattr(model, "model_config", {}).get("env_prefix", ""))
    for field, info in getattr(model, "model_fields", {}).items():
        alias = info.validation_alias
        if (alias if isinstance(alias, str) else f"{prefix}{field}").upper() == name.upper():
            value = getattr(settings, field)
            return None if value is None else str(value)
    return None


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


def _field(text: str, kind: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    values: set[int] = set()
    try:
        for part in text.split(","):
            values.update(_part(part, low, high, names))
    except ValueError:
        named = f", {names[0][:3]}-{names[-1][:3]}" if names else ""
        raise ValueError(
            f"NCRONTAB {kind} field {text!r}: {low}-{high}{named}, *, a-b, a/n, a-b/n, lists"
        ) from None
    return frozenset(values)


def _part(part: str, low: int, high: int, names: tuple[str, ...]) -> range:
    """One element of a list, read as NCrontab's ``CrontabFieldImpl.InternalParse``."""
    span, step = part, 0
    if (slash := part.find("/")) > 0:
        span, step_text = part[:slash], part[slash + 1 :]
        if not _STEP.fullmatch(step_text):
            raise ValueError(part)
        step = int(step_text)
    if span == "*":
        start, end = low, high
    elif (dash := span.find("-")) > 0:
        start, end = sorted((_value(span[:dash], low, names), _value(span[dash + 1 :], low, names)))
    else:
        start = _value(span, low, names)
        end = high if slash > 0 else start
    if not low <= start <= end <= high:
        raise ValueError(part)
    return range(start, end + 1, max(step, 1))


def _value(text: str, low: int, names: tuple[str, ...]) -> int:
    if _NUMBER.fullmatch(text):
        return int(text)
    for index, name in enumerate(names):  # a name or any prefix of one, the first that fits
        if text and name.lower().startswith(text.lower()):
            return low + index
    raise ValueError(text)


def _next_month(at: datetime) -> datetime:
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month, day=1, hour=0, minute=0, second=0)
