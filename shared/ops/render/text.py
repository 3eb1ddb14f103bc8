"""Audit records for people: a compact table, short actor names, and a story as text.

Every field of a record may hold text from outside (event ids, blob names, topics, principal
names, reasons), stored as received: each is neutralised here, where it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from shared.domain.audit import AuditRecord
from shared.domain.text import neutralise
from shared.ops.views import live_check
from shared.ops.views.story import Story

_COLUMNS = (
    ("seq", 4),
    ("time utc", 8),
    ("actor", 18),
    ("action", 20),
    ("target", 38),
    ("outcome", 11),
    ("corr id", 8),
    ("reason", 60),
)
_STORY_COLUMNS = (
    ("time utc", 8),
    ("+secs", 6),
    ("stage", 8),
    ("action", 21),
    ("target", 38),
    ("outcome", 11),
)
# A step's live-traffic line starts under its action column.
_STORY_INDENT = sum(width + 2 for _, width in _STORY_COLUMNS[:3])


def short_actor(actor: str) -> str:
    """The last two segments of an ARM id, e.g. ``workspaces/mlops-local``."""
    parts = actor.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else actor


def row(record: AuditRecord) -> str:
    values = (
        str(record.seq),
        record.time[11:19],
        who(record),
        record.action,
        record.target,
        record.outcome,
        record.correlation_id[:8],
        record.reason,
    )
    return _join(values, _COLUMNS)


def table(records: Iterable[AuditRecord]) -> str:
    return "\n".join([header(), *(row(record) for record in records)])


def header() -> str:
    return _join((name.upper() for name, _ in _COLUMNS), _COLUMNS)


def story_text(story: Story) -> str:
    """The steps in order with time since the start, then the outcome and where time went."""
    first = story.steps[0].record if story.steps else None
    title = f"story of {neutralise(story.key)}"
    lines = [title + (f" (from {neutralise(first.time[:19])} UTC)" if first else "")]
    lines.append(f"correlation ids: {', '.join(map(neutralise, story.correlation_ids))}")
    lines.append(_join((name.upper() for name, _ in _STORY_COLUMNS), _STORY_COLUMNS) + "  REASON")
    for step in story.steps:
        record = step.record
        values = (
            record.time[11:19],
            f"{step.offset:.1f}",
            step.stage,
            record.action,
            record.target,
            record.outcome,
        )
        by = _principal(record)
        reason = neutralise(record.reason) + (f"  [by {neutralise(by)}]" if by else "")
        lines.append(f"{_join(values, _STORY_COLUMNS)}  {reason}")
        if live := live_check.summary(live_check.live_details(record.details)):
            lines.append(f"{'':>{_STORY_INDENT}}live traffic: {neutralise(live)}")
    lines.append(f"outcome: {neutralise(story.outcome)}")
    spans = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in story.spans.items())
    lines.append(f"time: {spans or 'none recorded'}")
    return "\n".join(lines)


def _principal(record: AuditRecord) -> str:
    """Who asked, for records caused by a person (the manual API records the principal)."""
    principal = record.details.get("principal")
    name = principal.get("name") if isinstance(principal, Mapping) else None
    return str(name) if name else ""


def who(record: AuditRecord) -> str:
    """The principal's name where a person acted, else the actor's short form."""
    return _principal(record) or short_actor(record.actor)


def _join(values: Iterable[str], columns: tuple[tuple[str, int], ...]) -> str:
    fitted = (
        _fit(neutralise(value), width) for value, (_, width) in zip(values, columns, strict=True)
    )
    return "  ".join(fitted)


def _fit(value: str, width: int) -> str:
    return value.ljust(width) if len(value) <= width else value[: width - 1] + "…"
