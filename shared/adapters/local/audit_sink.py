"""The audit log on SQLite: append-only, sequenced and keyed-chained (DESIGN.md section 10).

The chain key is the ``audit-chain-key`` secret of the home's 0600 secret store (created on
first append); the anchor, the newest (seq, hash) with its MAC, lives in the home's state
store (``state.db``), outside the trail, so cutting records off ``audit.db`` shows.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.adapters.local import audit_index
from shared.adapters.local._sqlite import ConnectionPool, translate_errors
from shared.adapters.local.secret_store import EnvFileSecretStore
from shared.adapters.local.state_store import SqliteStateStore
from shared.domain.audit import (
    CHECKPOINT_ACTION,
    DEFAULT_CHECKPOINT_EVERY,
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Cadence,
    ChainKey,
    ChainReport,
    Head,
    cadence_of,
    new_key_text,
    seal,
)
from shared.domain.audit_verify import StoredRecord, verify_chain
from shared.ports import Clock, ConcurrencyConflict, NotFound, StateStore, TransientError

DEFAULT_KEY_SECRET = "audit-chain-key"  # noqa: S105 (the secret's name, not its value)
ANCHOR_KIND, ANCHOR_KEY = "audit", "head"
_ANCHOR_ATTEMPTS = 20
log = logging.getLogger("mlops.audit")

_COLUMN_LIST = (
    "seq, schema_version, time, actor, action, target, outcome, reason, correlation_id, "
    "details, prev_hash, hash"
)
_COLUMNS = tuple(_COLUMN_LIST.split(", "))
_INSERT = (
    "INSERT INTO audit (seq, schema_version, time, actor, action, target, outcome, reason, "
    "correlation_id, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# What the walk reads of each record: the chain's columns and SQLite's rendering of the
# canonical form (json_object keeps the order given, the sorted one; json() re-renders the
# details compact in their stored, sorted, key order; invalid JSON gives NULL, not an error).
_WALKED = ("seq", "schema_version", "action", "prev_hash", "hash")
_SELECT_SEALED = f"""
SELECT {", ".join(_WALKED)},
       CASE WHEN json_valid(details) THEN json_object(
           'action', action, 'actor', actor, 'correlation_id', correlation_id,
           'details', json(details), 'outcome', outcome, 'prev_hash', prev_hash,
           'reason', reason, 'schema_version', schema_version, 'seq', seq,
           'target', target, 'time', time) END
FROM audit ORDER BY seq
"""  # noqa: S608 (constants only)
_SELECT_ONE = f"SELECT {_COLUMN_LIST} FROM audit WHERE seq = ?"  # noqa: S608
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
CREATE INDEX IF NOT EXISTS audit_action ON audit (action, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class SqliteAuditSink:
    """``secrets`` and ``anchor`` default to the home's own (``secrets.json`` and
    ``state.db`` beside ``path``), as the local backend lays them out."""

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        secrets: EnvFileSecretStore | None = None,
        anchor: StateStore | None = None,
        key_secret: str = DEFAULT_KEY_SECRET,
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self._pool = ConnectionPool(path, _SCHEMA + audit_index.SCHEMA)
        self._clock = clock
        self._secrets = secrets or EnvFileSecretStore(path.parent / "secrets.json")
        self._closers: list[Callable[[], None]] = [self._pool.close]
        if anchor is None:
            own = SqliteStateStore(path.parent / "state.db")
            anchor = own
            self._closers.append(own.close)
        self._anchor = anchor
        self._key_secret, self._every = key_secret, checkpoint_every
        self._sealing_key: ChainKey | None = None  # read (or created) on the first append

    def __repr__(self) -> str:
        return f"SqliteAuditSink({self._pool.path})"

    def append(self, entry: AuditEntry) -> AuditRecord:
        now = self._clock.now()
        if now.tzinfo is None:
            raise ValueError("the clock must return timezone-aware time")
        # Hash what will be read back: JSON turns tuples into lists and keys into strings.
        details = json.loads(json.dumps(dict(entry.details), allow_nan=False, default=str))
        sealed_entry = replace(entry, details=details)
        if self._sealing_key is None:
            text = self._secrets.ensure(self._key_secret, new_key_text)
            self._sealing_key = ChainKey.from_text(text)
        key = self._sealing_key
        with self._pool.transaction() as conn:
            last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            sealed = seal(
                sealed_entry,
                seq=seq,
                time=now.astimezone(UTC),
                prev_hash=prev_hash,
                key=key,
                cadence=self._cadence(conn),
                every=self._every,
            )
            for record in sealed:
                conn.execute(_INSERT, _row(record))
            audit_index.add_appended(conn, sealed)
        self._advance_anchor(Head.sealed(key, sealed[-1]))
        return sealed[0]

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

    def trail(self) -> audit_index.StoryIndex:
        """The trail as `mlops explain` reads it: one story through the indexes."""
        return audit_index.StoryIndex(self._pool, _COLUMN_LIST, _record)

    def verify(self) -> ChainReport:
        """Recompute every keyed hash and link from the first record, then compare the end
        with the anchor. Never creates a key: without one the trail is reported unverified."""
        stored = self._anchor.get(ANCHOR_KIND, ANCHOR_KEY)
        with translate_errors():
            return verify_chain(
                self._stored(),
                key=self.key(),
                anchor=None if stored is None else stored.value,
                anchored=True,
            )

    def key(self) -> ChainKey | None:
        """The chain key, if the home has one."""
        try:
            return ChainKey.from_text(self._secrets.get(self._key_secret))
        except NotFound:
            return None

    def close(self) -> None:
        for close in reversed(self._closers):
            close()

    def _cadence(self, conn: sqlite3.Connection) -> Cadence:
        row = conn.execute(
            "SELECT seq, details FROM audit WHERE action = ? ORDER BY seq DESC LIMIT 1",
            (CHECKPOINT_ACTION,),
        ).fetchone()
        if row is None:
            return Cadence(0, self._every)
        with suppress(json.JSONDecodeError, TypeError):
            return cadence_of({"seq": row[0], "details": json.loads(row[1])}, self._every)
        return Cadence(row[0], self._every)

    def _advance_anchor(self, head: Head) -> None:
        """Move the anchor forward to ``head`` (compare-and-set; never backward). An anchor
        that no longer matches the trail is evidence and stays as it is for verify to report.
        A failure here is logged, not raised: the record is already durable, and an anchor
        left behind by one record is still checked against the trail."""
        try:
            for _ in range(_ANCHOR_ATTEMPTS):
                stored = self._anchor.get(ANCHOR_KIND, ANCHOR_KEY)
                if stored is not None and not self._may_move(stored.value, head):
                    return
                try:
                    etag = None if stored is None else stored.etag
                    self._anchor.put(ANCHOR_KIND, ANCHOR_KEY, head.to_dict(), etag=etag)
                    return
                except ConcurrencyConflict:
                    continue
            log.warning("the audit anchor stayed contended; it stays behind at this append")
        except TransientError as error:
            log.warning("the audit anchor was not advanced: %s", error)

    def _may_move(self, current: Any, head: Head) -> bool:
        try:
            anchor = Head.parse(current)
        except ValueError:
            log.error("the audit anchor is malformed; left as found for `mlops audit verify`")
            return False
        if anchor.seq >= head.seq:
            return False  # a later append moved it already (or the trail was cut: evidence)
        row = (
            self._pool.connection()
            .execute("SELECT hash FROM audit WHERE seq = ?", (anchor.seq,))
            .fetchone()
        )
        if row is None or row[0] != anchor.hash:
            log.error("the audit anchor does not match the trail; left for `mlops audit verify`")
            return False
        return True

    def _stored(self) -> Iterator[StoredRecord]:
        """Each record with SQLite's rendering of its canonical form (audit.canonical: compact,
        keys sorted, details re-rendered compact): the walk checks the MAC over it and
        decodes only the records where it does not match."""
        conn = self._pool.connection()

        def whole(seq: int) -> dict[str, Any]:
            return dict(zip(_COLUMNS, conn.execute(_SELECT_ONE, (seq,)).fetchone(), strict=True))

        for row in conn.execute(_SELECT_SEALED):
            sealed = None if row[-1] is None else row[-1].encode("utf-8", "surrogatepass")
            yield _Walked(dict(zip(_WALKED, row[:-1], strict=True)), sealed, whole)


class _Walked(StoredRecord):
    """The chain's columns only; the whole record is read when the walk needs it (a MAC
    over SQLite's rendering that does not match, a checkpoint's details)."""

    __slots__ = ("_whole",)

    def __init__(
        self,
        fields: dict[str, Any],
        sealed: bytes | None,
        whole: Callable[[int], dict[str, Any]],
    ) -> None:
        super().__init__(fields, sealed)
        self._whole = whole

    def decoded(self) -> dict[str, Any]:
        return StoredRecord(self._whole(self["seq"]), None).decoded()


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
