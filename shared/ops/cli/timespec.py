"""Times as operators type them: ``2h`` ago, ``10:02`` today, or ISO 8601. All in UTC,
because the audit trail is, both here and in Log Analytics."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

_RELATIVE = re.compile(r"(?P<amount>\d+(?:\.\d+)?)\s*(?P<unit>s|m|h|d|w)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"\d{1,2}:\d{2}(?::\d{2})?")
HELP = "a time in UTC: 2h or 30m ago, 10:02 today, or ISO 8601 (2026-11-26T10:02)"


class BadTime(ValueError):
    pass


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """The UTC moment ``text`` names; naive ISO times are taken as UTC."""
    now = now or datetime.now(UTC)
    text = text.strip()
    if match := _RELATIVE.fullmatch(text):
        amount = float(match["amount"])
        return now - timedelta(**{_UNITS[match["unit"]]: amount})
    if _CLOCK.fullmatch(text):
        try:
            clock = time.fromisoformat(text if text.index(":") == 2 else f"0{text}")
        except ValueError:
            raise BadTime(f"not a time of day: {text!r}") from None
        return datetime.combine(now.astimezone(UTC).date(), clock, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadTime(f"not a time: {text!r} (use {HELP})") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_duration(text: str) -> timedelta:
    """``5m``, ``90s``, ``1h``: the length of a window."""
    match = _RELATIVE.fullmatch(text.strip())
    if not match:
        raise BadTime(f"not a duration: {text!r} (use e.g. 90s, 5m, 2h)")
    return timedelta(**{_UNITS[match["unit"]]: float(match["amount"])})
