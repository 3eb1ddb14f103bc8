"""The audit log on SQLite: append-only, sequenced and hash-chained (DESIGN.md section 10)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.adapters.local._sqlite import ConnectionPool, translate_errors
from shared.domain.audit import GENESIS_HASH, AuditEntry, AuditRecord, ChainReport, chain
from shared.domain.audit import verify_chain as _verify_chain
from shared.ports import Clock

_COLUMN_LIST = (
    "seq, schema_version, time, actor, action, target, outcome, reason, correlation_id, "
    "details, prev_hash, hash"
)
_COLUMNS = tuple(_COLUMN_LIST.split(", "))
_INSERT = (
    "INSERT INTO audit (seq, schema_version, time, actor, action, target, outcome, reason, "
    "correlation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_ALL = (
    "SELECT seq, schema_version, time, actor, action, target, outcome, reason, correlation_id, "
    "details, prev_hash, hash FROM audit ORDER BY seq"
)
# Empty filters match everything: substr(x, 1, 0) and instr(x, '') are always true.
_SELECT_FILTERED = """
SELECT seq, schema_version, time, actor, action, target, outcome, reason, correlation_id,
       details, prev_hash, hash FROM audit
WHERE seq > :after
  AND (:since IS NULL OR time >= :since)
  AND (:until IS NULL OR time < :until)
  AND substr(action, 1, length(:action)) = :action
  AND (:outcomes = '' OR instr(:outcomes, ',' || outcome || ',') > 0)
  AND instr(actor, :actor) > 0
  AND instr(target, :target) > 0
  AND (:correlation = '' OR correlation_id = :correlation)
ORDER BY seq DESC LIMIT :limit
"""
# The triggers stop accidental edits through SQLite; the hash chain catches everything else.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    schema_version INTEGER NOT NULL,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_correlation ON audit (correlation_id);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class SqliteAuditSink:
    def __init__(self, path: Path, clock: Clock) -> None:
        self._pool = ConnectionPool(path, _SCHEMA)
        self._clock = clock

    def __repr__(self) -> str:
        return f"SqliteAuditSink({self._pool.path})"

    def append(self, entry: AuditEntry) -> AuditRecord:
        now = self._clock.now()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware time")
        # Hash what will be read back: JSON turns tuples into lists and keys into strings.
        details = json.loads(json.dumps(dict(entry.details), allow_nan=False, default=str))
        sealed_entry = replace(entry, details=details)
        with self._pool.transaction() as conn:
            last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            record = chain(sealed_entry, seq=seq, time=now.astimezone(UTC), prev_hash=prev_hash)
            conn.execute(_INSERT, _row(record))
        return record

    def flush(self) -> int:
        """Nothing to ship: the SQLite file is both the outbox and the store."""
        return 0

    def records(
        self,
        since: datetime | None = None,
        limit: int | None = None,
        action_prefix: str = "",
        target_contains: str = "",
        correlation_id: str = "",
        *,
        until: datetime | None = None,
        outcomes: Iterable[str] = (),
        actor_contains: str = "",
        after_seq: int = 0,
    ) -> list[AuditRecord]:
        """Matching records in sequence order; with ``limit``, the most recent ones.
        ``since`` is inclusive and ``until`` exclusive; ``after_seq`` is for following."""
        wanted = [outcome for outcome in outcomes if outcome]
        params = {
            "after": after_seq,
            "since": None if since is None else _utc_text(since),
            "until": None if until is None else _utc_text(until),
            "action": action_prefix,
            "outcomes": f",{','.join(wanted)}," if wanted else "",
            "actor": actor_contains,
            "target": target_contains,
            "correlation": correlation_id,
            "limit": -1 if limit is None else max(limit, 0),  # SQLite: LIMIT -1 is no limit
        }
        with translate_errors():
            rows = self._pool.connection().execute(_SELECT_FILTERED, params).fetchall()
        return [_record(row) for row in reversed(rows)]

    def verify(self) -> ChainReport:
        """Recompute every hash and link from the first record."""
        with translate_errors():
            return _verify_chain(self._stored())

    def close(self) -> None:
        self._pool.close()

    def _stored(self) -> Iterator[dict[str, Any]]:
        for row in self._pool.connection().execute(_SELECT_ALL):
            stored = dict(zip(_COLUMNS, row, strict=True))
            # Undecodable details stay as stored text: the hash check then reports the record.
            with suppress(json.JSONDecodeError, TypeError):
                stored["details"] = json.loads(stored["details"])
            yield stored


def _utc_text(moment: datetime) -> str:
    """Stored times are UTC ISO 8601 of one width, so text order is time order."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


def _row(record: AuditRecord) -> tuple[Any, ...]:
    values = record.to_dict()
    values["details"] = json.dumps(values["details"], sort_keys=True, ensure_ascii=False)
    return tuple(values[name] for name in _COLUMNS)


def _record(row: sqlite3.Row | tuple[Any, ...]) -> AuditRecord:
    stored = dict(zip(_COLUMNS, row, strict=True))
    stored["details"] = json.loads(stored["details"])
    return AuditRecord(**stored)
