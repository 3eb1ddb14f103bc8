"""AuditSink that keeps what the services asked to record and seals the chain."""

from __future__ import annotations

import json
from dataclasses import replace

from shared.domain.audit import GENESIS_HASH, AuditEntry, AuditRecord, ChainKey, chain
from tests.fakes.clock import FakeClock

TEST_CHAIN_KEY = ChainKey(bytes(range(32)))  # the fake's audit chain key


class RecordingAuditSink:
    """Keeps what services asked to record (``entries``) and the sealed chain (``records``)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.entries: list[AuditEntry] = []
        self.records: list[AuditRecord] = []
        self.flushes = 0

    def append(self, entry: AuditEntry) -> AuditRecord:
        prev = self.records[-1].hash if self.records else GENESIS_HASH
        # Sealed as the adapters seal it: the details as JSON reads them back.
        details = json.loads(json.dumps(dict(entry.details), allow_nan=False, default=str))
        record = chain(
            replace(entry, details=details),
            seq=len(self.records) + 1,
            time=self.clock.now(),
            prev_hash=prev,
            key=TEST_CHAIN_KEY,
        )
        self.entries.append(entry)
        self.records.append(record)
        return record

    def flush(self) -> int:
        self.flushes += 1
        return 0

    def actions(self) -> list[tuple[str, str]]:
        return [(entry.action, entry.outcome) for entry in self.entries]
