"""One SQLite connection per thread, configured for many threads and processes."""

from __future__ import annotations

import sqlite3
import threading
import weakref
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
        self._idle: list[sqlite3.Connection] = []  # open, and no thread's
        with translate_errors():
            self.connection().executescript(schema)

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=5.0
                )
                conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                with self._lock:
                    self._all.append(conn)
            self._local.conn = conn
            # When the thread ends its locals go, and with them this lease: the connection
            # goes back for the next thread. The local host runs a thread per request; without
            # this each request opened (and kept) a connection of its own (issue 15).
            self._local.lease = lease = _Lease()
            weakref.finalize(lease, self._give_back, conn)
        return conn

    def _give_back(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if conn in self._all and not conn.in_transaction:
                self._idle.append(conn)

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
            self._idle.clear()
        self._local = threading.local()


class _Lease:
    """A thread's hold on its connection (see ConnectionPool.connection)."""


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
