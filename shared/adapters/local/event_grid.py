"""A local Event Grid: routes events to the app's Event Grid functions by the same routing
JSON as the Bicep subscriptions, delivers at least once with retries and backoff, and
dead-letters what still fails, as a subscription with a dead-letter destination does."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.adapters.project_files import REPO_ROOT

log = logging.getLogger("mlops.eventgrid")

ROUTING_FILE = REPO_ROOT / "infra" / "event-routing.json"
# The one deployment-time value a route names, as infra/modules/event-grid.bicep fills it in:
# the experiment the app's training jobs run under (MLOPS_MODEL_NAME; main.bicep's modelName).
EXPERIMENT_PLACEHOLDER = "{experimentName}"
DEFAULT_EXPERIMENT = "spam-classifier"
BACKOFF_SECONDS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Subscription:
    name: str
    function: str
    event_types: tuple[str, ...]
    subject_begins_with: str
    subject_ends_with: str
    # (data key path, allowed values in lower case): "All string comparisons are
    # case-insensitive" (Learn, "Understand event filtering for Event Grid subscriptions").
    string_in: tuple[tuple[str, tuple[str, ...]], ...]

    def matches(self, event: Mapping[str, Any]) -> bool:
        subject = str(event.get("subject", ""))
        return (
            _event_type(event) in self.event_types
            and subject.startswith(self.subject_begins_with)
            and subject.endswith(self.subject_ends_with)
            and all(str(_lookup(event, key)).lower() in values for key, values in self.string_in)
        )


def load_routing(
    path: Path = ROUTING_FILE, *, experiment: str = DEFAULT_EXPERIMENT
) -> tuple[Subscription, ...]:
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text.replace(EXPERIMENT_PLACEHOLDER, json.dumps(experiment)[1:-1]))
    return tuple(
        Subscription(
            name=sub["name"],
            function=sub["function"],
            event_types=tuple(sub["includedEventTypes"]),
            subject_begins_with=sub.get("subjectBeginsWith", ""),
            subject_ends_with=sub.get("subjectEndsWith", ""),
            string_in=tuple(
                (f["key"], tuple(str(value).lower() for value in f["values"]))
                for f in sub.get("advancedFilters", [])
                if f["operatorType"] == "StringIn"
            ),
        )
        for sub in doc["subscriptions"]
    )


class LocalEventGrid:
    """Pending deliveries in SQLite: survives a crash of the process, like the real service."""

    def __init__(
        self,
        path: Path,
        *,
        max_attempts: int = 5,
        backoff: Sequence[float] = BACKOFF_SECONDS,
        experiment: str = DEFAULT_EXPERIMENT,
    ) -> None:
        self._path = path
        self._backoff = tuple(backoff)
        self._dead_letters = path.parent / "deadletter"
        self._max_attempts = max_attempts
        self._routing = load_routing(experiment=experiment)
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS delivery (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                " subscription TEXT, function TEXT, event TEXT, attempts INTEGER DEFAULT 0,"
                " due REAL, status TEXT DEFAULT 'pending', error TEXT DEFAULT '')"
            )

    def publish(self, event: Mapping[str, Any]) -> None:
        """Fan the event out to every matching subscription (none: dropped, as in Azure)."""
        matched = [sub for sub in self._routing if sub.matches(event)]
        body = json.dumps(event)
        with self._lock, self._db() as db:
            db.executemany(
                "INSERT INTO delivery (subscription, function, event, due) VALUES (?, ?, ?, ?)",
                [(sub.name, sub.function, body, time.time()) for sub in matched],
            )
        if not matched:
            log.info("event %s (%s) matched no subscription", event.get("id"), _event_type(event))

    def pending(self) -> int:
        with self._db() as db:
            row = db.execute("SELECT COUNT(*) FROM delivery WHERE status = 'pending'").fetchone()
        return int(row[0])

    def pump(self, deliver: Callable[[str, Mapping[str, Any]], None]) -> int:
        """Deliver every due event once; returns how many were delivered successfully.
        ``deliver(function, event)`` raises on failure: in process
        (``shared.devhost.delivery.invoke``), or over HTTP to a running host's webhook
        (``mlops serve``). Injected, so the routing and retry store never imports the app."""
        with self._lock, self._db() as db:
            due = db.execute(
                "SELECT seq, subscription, function, event, attempts FROM delivery"
                " WHERE status = 'pending' AND due <= ? ORDER BY seq",
                (time.time(),),
            ).fetchall()
        delivered = 0
        for seq, subscription, function, body, attempts in due:
            try:
                deliver(function, json.loads(body))
            except Exception as error:  # any failure: retry later, as Event Grid does
                self._failed(seq, subscription, body, attempts + 1, error)
                continue
            with self._lock, self._db() as db:
                db.execute("UPDATE delivery SET status = 'delivered' WHERE seq = ?", (seq,))
            delivered += 1
        return delivered

    def dead_letters(self) -> Sequence[Path]:
        return sorted(self._dead_letters.glob("*/*.json"))

    def _failed(
        self, seq: int, subscription: str, body: str, attempts: int, error: Exception
    ) -> None:
        log.warning(
            "delivery %d to %s failed (attempt %d): %s",
            seq,
            subscription,
            attempts,
            type(error).__name__,
        )
        delay = self._backoff[min(attempts, len(self._backoff)) - 1]
        status, due = "pending", time.time() + delay
        if attempts >= self._max_attempts:
            status = "deadlettered"
            self._dead_letter(subscription, body, attempts, error)
        with self._lock, self._db() as db:
            db.execute(
                "UPDATE delivery SET attempts = ?, due = ?, status = ?, error = ? WHERE seq = ?",
                (attempts, due, status, f"{type(error).__name__}: {error}"[:500], seq),
            )

    def _dead_letter(self, subscription: str, body: str, attempts: int, error: Exception) -> None:
        event = json.loads(body)
        folder = self._dead_letters / subscription
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            **event,
            "deadLetterReason": "MaxDeliveryAttemptsExceeded",
            "deliveryAttempts": attempts,
            "lastDeliveryOutcome": type(error).__name__,
            "publishTime": datetime.now().astimezone().isoformat(),
        }
        (folder / f"{event.get('id', 'unknown')}.json").write_text(json.dumps(record, indent=2))

    def _db(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db


def _event_type(event: Mapping[str, Any]) -> str:
    return str(event.get("type") if "specversion" in event else event.get("eventType", ""))


def _lookup(event: Mapping[str, Any], dotted: str) -> Any:
    value: Any = event
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value
