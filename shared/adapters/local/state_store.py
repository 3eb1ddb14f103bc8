"""The state store on SQLite: JSON documents by (kind, key) with etag compare-and-set."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.adapters.local._sqlite import ConnectionPool, translate_errors
from shared.domain.values import Stored
from shared.ports import ConcurrencyConflict

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


class SqliteStateStore:
    def __init__(self, path: Path) -> None:
        self._pool = ConnectionPool(path, _SCHEMA)

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

    def close(self) -> None:
        self._pool.close()
