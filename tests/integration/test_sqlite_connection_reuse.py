"""SQLite connections outlive the threads that opened them only as idle ones, reused by the
next thread: the local host runs a thread per request, and each request used to open (and
keep) connections of its own, about four file descriptors per request until the host ran out
(issue 15 found it measuring the webhook)."""

from __future__ import annotations

import threading
from pathlib import Path

from shared.adapters.local._sqlite import ConnectionPool

THREADS = 200


def open_files() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def test_a_thread_per_request_reuses_connections(tmp_path: Path) -> None:
    pool = ConnectionPool(tmp_path / "s.db", "CREATE TABLE IF NOT EXISTS t (x);")
    try:
        pool.connection().execute("INSERT INTO t VALUES (1)")
        before = open_files()
        for _ in range(THREADS):  # one after another, as requests on a quiet host
            worker = threading.Thread(
                target=lambda: pool.connection().execute("SELECT count(*) FROM t").fetchall()
            )
            worker.start()
            worker.join()
        assert open_files() - before < 10  # was about 2 per thread (the file and its WAL)
    finally:
        pool.close()


def test_a_closed_pool_hands_out_no_closed_connection(tmp_path: Path) -> None:
    pool = ConnectionPool(tmp_path / "s.db", "CREATE TABLE IF NOT EXISTS t (x);")
    worker = threading.Thread(target=lambda: pool.connection().execute("SELECT 1"))
    worker.start()
    worker.join()
    pool.close()
    assert pool.connection().execute("SELECT count(*) FROM t").fetchone() == (0,)
    pool.close()
