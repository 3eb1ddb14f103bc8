"""SQLite records of the local ML platform: jobs, endpoints (with traffic) and deployments.

Several processes share the file (``mlops serve`` and a CLI command), so every write is a
single statement or a short transaction, in WAL mode with a busy timeout.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, pid INTEGER NOT NULL,
    output_dir TEXT NOT NULL, log_path TEXT NOT NULL,
    model_name TEXT, model_version TEXT, error TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY, traffic TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    endpoint TEXT NOT NULL, name TEXT NOT NULL, model_name TEXT NOT NULL,
    model_version TEXT NOT NULL, image TEXT, model_dir TEXT NOT NULL, state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '', pid INTEGER NOT NULL, port INTEGER NOT NULL,
    requests INTEGER NOT NULL DEFAULT 0, errors INTEGER NOT NULL DEFAULT 0,
    client_errors INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL, PRIMARY KEY (endpoint, name)
);
CREATE TABLE IF NOT EXISTS requests (
    endpoint TEXT NOT NULL, deployment TEXT NOT NULL, at REAL NOT NULL, error INTEGER NOT NULL,
    client_error INTEGER NOT NULL, latency_ms REAL NOT NULL, routed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS requests_by_deployment ON requests (endpoint, deployment, at);
CREATE INDEX IF NOT EXISTS requests_by_time ON requests (at);
"""
# Request records older than this are dropped as new ones arrive (an indexed range delete):
# a canary's bake time is minutes to hours.
REQUEST_RETENTION_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class JobRow:
    name: str
    status: str
    pid: int
    output_dir: Path
    log_path: Path
    model_name: str | None = None
    model_version: str | None = None
    error: str = ""


@dataclass(frozen=True)
class DeploymentRow:
    endpoint: str
    name: str
    model_name: str
    model_version: str
    image: str | None
    model_dir: Path
    state: str
    error: str
    pid: int
    port: int
    requests: int = 0
    errors: int = 0  # the deployment failed: 5xx, unreachable, timed out
    client_errors: int = 0  # the caller sent a bad request: 4xx


class PlatformDB:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._path = path
        with self._tx() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self._path, timeout=30.0)) as db:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA busy_timeout = 30000")
            with db:
                yield db

    # Jobs

    def claim_job(self, row: JobRow) -> bool:
        """Insert a running job unless one of that name exists; True when this call won."""
        now = time.time()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO jobs (name, status, pid, output_dir, log_path, created,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (row.name, row.status, row.pid, str(row.output_dir), str(row.log_path), now, now),
            )
            return cursor.rowcount == 1

    def job(self, name: str) -> JobRow | None:
        with self._tx() as db:
            found = db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
        if found is None:
            return None
        return JobRow(
            name=found["name"],
            status=found["status"],
            pid=found["pid"],
            output_dir=Path(found["output_dir"]),
            log_path=Path(found["log_path"]),
            model_name=found["model_name"],
            model_version=found["model_version"],
            error=found["error"],
        )

    def finish_job(self, name: str, status: str, model: tuple[str, str] | None, error: str) -> bool:
        """Move a running job to its final status; only one caller wins (it publishes)."""
        model_name, model_version = model or (None, None)
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, model_name = ?, model_version = ?, error = ?,"
                " updated = ? WHERE name = ? AND status = 'running'",
                (status, model_name, model_version, error, time.time(), name),
            )
            return cursor.rowcount == 1

    # Endpoints

    def ensure_endpoint(self, name: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO endpoints (name, created) VALUES (?, ?)", (name, time.time())
            )

    def traffic(self, endpoint: str) -> dict[str, int] | None:
        with self._tx() as db:
            found = db.execute(
                "SELECT traffic FROM endpoints WHERE name = ?", (endpoint,)
            ).fetchone()
        return None if found is None else dict(json.loads(found["traffic"]))

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE endpoints SET traffic = ? WHERE name = ?",
                (json.dumps(dict(sorted(traffic.items()))), endpoint),
            )

    # Deployments

    def put_deployment(self, row: DeploymentRow) -> None:
        """Create or replace a deployment; its request counters start again."""
        with self._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO deployments (endpoint, name, model_name, model_version,"
                " image, model_dir, state, error, pid, port, updated)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.endpoint,
                    row.name,
                    row.model_name,
                    row.model_version,
                    row.image,
                    str(row.model_dir),
                    row.state,
                    row.error,
                    row.pid,
                    row.port,
                    time.time(),
                ),
            )

    def update_deployment(self, endpoint: str, name: str, **fields: Any) -> None:
        allowed = {"state", "error", "pid", "port"}
        if not fields.keys() <= allowed:
            raise ValueError(f"cannot update {sorted(fields.keys() - allowed)}")
        assignments = ", ".join(f"{key} = ?" for key in sorted(fields))
        values = [fields[key] for key in sorted(fields)]
        sql = f"UPDATE deployments SET {assignments}, updated = ? WHERE endpoint = ? AND name = ?"  # noqa: S608 (column names allow-listed above)
        with self._tx() as db:
            db.execute(sql, (*values, time.time(), endpoint, name))

    def count_request(
        self,
        endpoint: str,
        name: str,
        *,
        error: bool,
        client_error: bool,
        at: float,
        latency_ms: float,
        routed: bool,
    ) -> None:
        """Count one request on the deployment and keep its record (when, outcome, latency,
        whether the endpoint routed it by weight or the caller named the deployment)."""
        with self._tx() as db:
            db.execute(
                "UPDATE deployments SET requests = requests + 1, errors = errors + ?,"
                " client_errors = client_errors + ? WHERE endpoint = ? AND name = ?",
                (int(error), int(client_error), endpoint, name),
            )
            db.execute(
                "INSERT INTO requests (endpoint, deployment, at, error, client_error,"
                " latency_ms, routed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (endpoint, name, at, int(error), int(client_error), latency_ms, int(routed)),
            )
            db.execute("DELETE FROM requests WHERE at < ?", (at - REQUEST_RETENTION_SECONDS,))

    def routed_requests(
        self, endpoint: str, name: str, start: float, end: float
    ) -> list[tuple[bool, bool, float]]:
        """(error, client_error, latency_ms) of each request the endpoint routed to the
        deployment by its traffic weights in [start, end), oldest first."""
        with self._tx() as db:
            found = db.execute(
                "SELECT error, client_error, latency_ms FROM requests WHERE endpoint = ? AND"
                " deployment = ? AND routed = 1 AND at >= ? AND at < ? ORDER BY at",
                (endpoint, name, start, end),
            ).fetchall()
        return [(bool(r["error"]), bool(r["client_error"]), float(r["latency_ms"])) for r in found]

    def deployment(self, endpoint: str, name: str) -> DeploymentRow | None:
        with self._tx() as db:
            found = db.execute(
                "SELECT * FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name)
            ).fetchone()
        return None if found is None else _deployment(found)

    def deployments(self, endpoint: str) -> list[DeploymentRow]:
        with self._tx() as db:
            found = db.execute(
                "SELECT * FROM deployments WHERE endpoint = ? ORDER BY name", (endpoint,)
            ).fetchall()
        return [_deployment(row) for row in found]

    def delete_deployment(self, endpoint: str, name: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM deployments WHERE endpoint = ? AND name = ?", (endpoint, name))


def _deployment(row: sqlite3.Row) -> DeploymentRow:
    return DeploymentRow(
        endpoint=row["endpoint"],
        name=row["name"],
        model_name=row["model_name"],
        model_version=row["model_version"],
        image=row["image"],
        model_dir=Path(row["model_dir"]),
        state=row["state"],
        error=row["error"],
        pid=row["pid"],
        port=row["port"],
        requests=row["requests"],
        errors=row["errors"],
        client_errors=row["client_errors"],
    )
