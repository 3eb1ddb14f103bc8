"""One SQLite connection per thread, configured for many threads and processes."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.adapters.local.private_files import private_file
from shared.ports import TransientError

BUSY_TIMEOUT_MS = 5000


class ConnectionPool:
    """Thread-local connections in autocommit mode; ``transaction()`` holds the write lock."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        private_file(path)  # 0600 before SQLite opens it: its -wal and -shm copy the mode
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        with translate_errors():
            self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE: take the write lock up front so read-then-write cannot interleave."""
        conn = self.connection()
        with translate_errors():
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # also after a failed COMMIT
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


@contextmanager
def translate_errors() -> Iterator[None]:
    """A locked or busy database is worth a retry; anything else is a bug or corruption."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        message = str(exc).lower()
        if "locked" in message or "busy" in message:
            raise TransientError(f"SQLite database is busy: {exc}") from exc
        raise
