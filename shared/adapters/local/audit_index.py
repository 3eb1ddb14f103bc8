"""The local trail's story index: which correlation ids carry each link id (window, rollout,
job, model; shared/domain/audit_links.py), so `mlops explain` reads the records of one story
instead of the whole trail.

The index is derived data, outside the hash chain: ``audit_indexed`` says up to which record
it is built. An append indexes its own records when the index is up to date; a trail written
before the index existed (or rows added behind the sink's back) is indexed by the next reader,
from where the index stops. Tampering with the index can only hide records from `explain`,
never from `mlops audit verify`, which reads ``audit`` itself.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import suppress
from typing import Any

from shared.adapters.local._sqlite import ConnectionPool, translate_errors
from shared.domain.audit import AuditRecord
from shared.domain.audit_links import links

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_link (
    link TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    PRIMARY KEY (link, correlation_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_indexed (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_target ON audit (target);
"""
_LINK = "INSERT OR IGNORE INTO audit_link (link, correlation_id) VALUES (?, ?)"
_MARK = (
    "INSERT INTO audit_indexed (id, seq) VALUES (1, :seq) "
    "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq"
)
_CHUNK = 500  # bound parameters per statement, well under SQLite's limit


class StoryIndex:
    """shared/ops/views/story.py's Trail over the local trail: each call reads what it
    returns through an index, so a story costs what the story holds."""

    def __init__(
        self, pool: ConnectionPool, columns: str, to_record: Callable[[Any], AuditRecord]
    ) -> None:
        self._pool, self._columns, self._to_record = pool, columns, to_record

    def story_records(self, correlation_ids: Collection[str]) -> list[AuditRecord]:
        with translate_errors():
            rows = correlated(self._pool.connection(), correlation_ids, self._columns)
        return [self._to_record(row) for row in rows]

    def linked_correlations(self, links: Collection[str]) -> set[str]:
        with translate_errors():
            conn = self._pool.connection()
            if indexed_through(conn) < newest(conn):
                with self._pool.transaction() as locked:
                    catch_up(locked)
            return linked(conn, links)

    def targeted_correlations(self, target: str) -> set[str]:
        with translate_errors():
            return targeted(self._pool.connection(), target)

    def prefixed_correlations(self, prefix: str) -> set[str]:
        with translate_errors():
            return prefixed(self._pool.connection(), prefix)


def indexed_through(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM audit_indexed WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def newest(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit").fetchone()[0])


def add_appended(conn: sqlite3.Connection, records: Collection[AuditRecord]) -> None:
    """Index an append's records inside its transaction, when the index is up to date."""
    first = min(r.seq for r in records)
    if indexed_through(conn) != first - 1:
        return  # behind: the next reader catches up from where it stops
    conn.executemany(
        _LINK, _pairs((r.action, r.target, r.correlation_id, r.details) for r in records)
    )
    conn.execute(_MARK, {"seq": max(r.seq for r in records)})


def catch_up(conn: sqlite3.Connection) -> None:
    """Index the records the index does not cover yet; the caller holds the write lock."""
    start = indexed_through(conn)
    rows = conn.execute(
        "SELECT action, target, correlation_id, details FROM audit WHERE seq > ? ORDER BY seq",
        (start,),
    )
    conn.executemany(_LINK, _pairs((a, t, c, _details(d)) for a, t, c, d in rows))
    conn.execute(_MARK, {"seq": max(start, newest(conn))})


def linked(conn: sqlite3.Connection, ids: Collection[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(ids)):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT correlation_id FROM audit_link WHERE link IN ({marks})"  # noqa: S608
        found.update(row[0] for row in conn.execute(query, chunk))
    return found


def targeted(conn: sqlite3.Connection, target: str) -> set[str]:
    rows = conn.execute("SELECT DISTINCT correlation_id FROM audit WHERE target = ?", (target,))
    return {row[0] for row in rows}


def prefixed(conn: sqlite3.Connection, prefix: str) -> set[str]:
    """A range over the correlation index: ``LIKE`` would read the whole table."""
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return set()
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    rows = conn.execute(
        "SELECT DISTINCT correlation_id FROM audit"
        " WHERE correlation_id >= ? AND correlation_id < ?",
        (prefix, upper),
    )
    return {row[0] for row in rows}


def correlated(conn: sqlite3.Connection, ids: Collection[str], columns: str) -> list[Any]:
    rows: list[Any] = []
    for chunk in _chunks(sorted(ids)):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT {columns} FROM audit WHERE correlation_id IN ({marks})"  # noqa: S608
        rows.extend(conn.execute(query, chunk))
    rows.sort(key=lambda row: row[0])  # seq is the first column
    return rows


def _pairs(
    records: Iterable[tuple[str, str, str, Any]],
) -> Iterator[tuple[str, str]]:
    for action, target, correlation_id, details in records:
        if isinstance(details, dict):
            for link in links(action, target, details):
                yield link, correlation_id


def _details(text: str) -> Any:
    with suppress(json.JSONDecodeError, TypeError):
        return json.loads(text)
    return None


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
