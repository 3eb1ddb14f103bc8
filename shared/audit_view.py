"""Audit records for people: a compact table, and short actor names."""

from __future__ import annotations

from collections.abc import Iterable

from shared.domain.audit import AuditRecord

_COLUMNS = (
    ("seq", 4),
    ("time", 8),
    ("actor", 18),
    ("action", 20),
    ("target", 38),
    ("outcome", 11),
    ("reason", 60),
)


def short_actor(actor: str) -> str:
    """The last two segments of an ARM id, e.g. ``workspaces/mlops-local``."""
    parts = actor.strip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) > 2 else actor


def row(record: AuditRecord) -> str:
    values = (
        str(record.seq),
        record.time[11:19],
        short_actor(record.actor),
        record.action,
        record.target,
        record.outcome,
        record.reason.replace("\n", " "),
    )
    return "  ".join(_fit(value, width) for value, (_, width) in zip(values, _COLUMNS, strict=True))


def table(records: Iterable[AuditRecord]) -> str:
    header = "  ".join(_fit(name.upper(), width) for name, width in _COLUMNS)
    return "\n".join([header, *(row(record) for record in records)])


def _fit(value: str, width: int) -> str:
    return value.ljust(width) if len(value) <= width else value[: width - 1] + "…"
