"""The state store on SQLite: JSON documents by (kind, key) with etag compare-and-set."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.adapters.local._sqlite import ConnectionPool, translate_errors
from shared.domain.values import Stored
from shared.ports import INDEXED, ConcurrencyConflict

_FIELD = re.compile(r"[a-z_][a-z0-9_]*")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    etag TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID;
"""
# One partial expression index per pair of INDEXED: list_where reads the matches only (the
# reconciler's active jobs and rollouts), however many finished ones the kind holds, and only
# writes of that kind pay for it. (state_status and state_phase indexed every kind.)
_INDEXES = "DROP INDEX IF EXISTS state_status;\nDROP INDEX IF EXISTS state_phase;\n" + "".join(
    f"CREATE INDEX IF NOT EXISTS state_{kind}_{name} "
    f"ON state (json_extract(value, '$.{name}'), key) WHERE kind = '{kind}';\n"
    for kind, name in INDEXED
)


class SqliteStateStore:
    def __init__(self, path: Path) -> None:
        self._pool = ConnectionPool(path, _SCHEMA + _INDEXES)

    def __repr__(self) -> str:
        return f"SqliteStateStore({self._pool.path})"

    def get(self, kind: str, key: str) -> Stored | None:
        with translate_errors():
            row = (
                self._pool.connection()
                .execute(
                    "SELECT key, value, etag FROM state WHERE kind = ? AND key = ?", (kind, key)
                )
                .fetchone()
            )
        return None if row is None else Stored(row[0], json.loads(row[1]), row[2])

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        document = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
        new_etag, updated = uuid.uuid4().hex, datetime.now(UTC).isoformat()
        conn = self._pool.connection()
        with translate_errors():
            if etag is None:
                try:
                    conn.execute(
                        "INSERT INTO state (kind, key, value, etag, updated) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (kind, key, document, new_etag, updated),
                    )
                except sqlite3.IntegrityError:
                    raise ConcurrencyConflict(f"{kind}/{key} already exists") from None
            else:
                cursor = conn.execute(
                    "UPDATE state SET value = ?, etag = ?, updated = ? "
                    "WHERE kind = ? AND key = ? AND etag = ?",
                    (document, new_etag, updated, kind, key, etag),
                )
                if cursor.rowcount != 1:
                    raise ConcurrencyConflict(f"{kind}/{key} changed or is missing")
        return new_etag

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        # substr() compares the prefix literally: no LIKE wildcards to escape.
        with translate_errors():
            rows = (
                self._pool.connection()
                .execute(
                    "SELECT key, value, etag FROM state "
                    "WHERE kind = ? AND substr(key, 1, ?) = ? ORDER BY key",
                    (kind, len(prefix), prefix),
                )
                .fetchall()
            )
        return [Stored(key, json.loads(value), tag) for key, value, tag in rows]

    def list_where(self, kind: str, field: str, values: Collection[str]) -> Sequence[Stored]:
        if not _FIELD.fullmatch(field):
            raise ValueError(f"not a document field name: {field!r}")
        wanted = sorted(set(values))
        marks = ", ".join("?" * len(wanted))
        if (kind, field) in INDEXED:
            # The path and the kind are literals, as in the partial index; INDEXED BY because
            # without statistics SQLite would rather walk the kind's primary-key range.
            query = (
                f"SELECT key, value, etag FROM state INDEXED BY state_{kind}_{field} "  # noqa: S608
                f"WHERE kind = '{kind}' AND json_extract(value, '$.{field}') IN ({marks}) "
                "ORDER BY key"
            )
            params: tuple[str, ...] = tuple(wanted)
        else:
            query = (
                "SELECT key, value, etag FROM state WHERE kind = ? "  # noqa: S608
                f"AND json_extract(value, '$.{field}') IN ({marks}) ORDER BY key"
            )
            params = (kind, *wanted)
        with translate_errors():
            rows = self._pool.connection().execute(query, params).fetchall()
        return [Stored(key, json.loads(value), tag) for key, value, tag in rows]

    def close(self) -> None:
        self._pool.close()
