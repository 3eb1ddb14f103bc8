"""The audit record (DESIGN.md section 10) and its hash chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64

Outcome = Literal["accepted", "rejected", "duplicate", "succeeded", "failed", "rolled_back"]
OUTCOMES: tuple[Outcome, ...] = (
    "accepted",
    "rejected",
    "duplicate",
    "succeeded",
    "failed",
    "rolled_back",
)


@dataclass(frozen=True)
class AuditEntry:
    """What a service wants recorded; the sink adds sequence, time and chain."""

    actor: str  # principal object id, or the event source (topic) for events
    action: str  # e.g. "data.received", "rollout.canary"
    target: str  # dataset, job, model@version, endpoint/deployment, image digest
    outcome: Outcome
    reason: str = ""
    correlation_id: str = ""  # event id or operation id
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    schema_version: int
    seq: int
    time: str  # ISO 8601 UTC
    actor: str
    action: str
    target: str
    outcome: Outcome
    reason: str
    correlation_id: str
    details: Mapping[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def chain(entry: AuditEntry, *, seq: int, time: datetime, prev_hash: str) -> AuditRecord:
    """Seal ``entry`` as record number ``seq`` after the record whose hash is ``prev_hash``."""
    fields: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "seq": seq,
        "time": time.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "reason": entry.reason,
        "correlation_id": entry.correlation_id,
        "details": dict(entry.details),
        "prev_hash": prev_hash,
    }
    return AuditRecord(**fields, hash=record_hash(fields))


def record_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 over the canonical JSON of every field except ``hash`` itself."""
    body = {key: value for key, value in fields.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    valid: bool
    records: int
    first_bad_seq: int | None = None
    problem: str = ""


def verify_chain(
    records: Iterable[Mapping[str, Any]], *, first_seq: int = 1, prev_hash: str = GENESIS_HASH
) -> ChainReport:
    """Recompute every hash and link; report the first record that does not check out.
    A slice of the chain (an export) is checked from its own first seq and prev_hash."""
    prev, expected_seq, count = prev_hash, first_seq, 0
    for record in records:
        count += 1
        seq = int(record["seq"])
        if seq != expected_seq:
            return ChainReport(False, count, seq, f"expected seq {expected_seq}, found {seq}")
        if record["prev_hash"] != prev:
            return ChainReport(False, count, seq, "prev_hash does not match previous record")
        if record_hash(record) != record["hash"]:
            return ChainReport(False, count, seq, "hash does not match record contents")
        prev, expected_seq = str(record["hash"]), seq + 1
    return ChainReport(True, count)


# The Log Analytics table the Azure audit sink writes (MLOpsAudit_CL, through its DCR
# stream): (column, Log Analytics type), in record order. TimeGenerated is the table's
# required time column; EventTime keeps the record's exact ``time`` text, because the hash
# covers that text and a datetime column would re-render it. No reserved names (Type, id,
# TenantId, _ResourceId ...). ``details`` is dynamic JSON.
AUDIT_TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("TimeGenerated", "datetime"),
    ("SchemaVersion", "long"),
    ("Seq", "long"),
    ("EventTime", "string"),
    ("Actor", "string"),
    ("Action", "string"),
    ("Target", "string"),
    ("Outcome", "string"),
    ("Reason", "string"),
    ("CorrelationId", "string"),
    ("Details", "dynamic"),
    ("PrevHash", "string"),
    ("Hash", "string"),
)
_RECORD_FIELD_OF_COLUMN = {
    "SchemaVersion": "schema_version",
    "Seq": "seq",
    "EventTime": "time",
    "Actor": "actor",
    "Action": "action",
    "Target": "target",
    "Outcome": "outcome",
    "Reason": "reason",
    "CorrelationId": "correlation_id",
    "Details": "details",
    "PrevHash": "prev_hash",
    "Hash": "hash",
}


def to_table_row(record: AuditRecord) -> dict[str, Any]:
    """One row of AUDIT_TABLE_COLUMNS for ``record``."""
    fields = record.to_dict()
    row = {column: fields[name] for column, name in _RECORD_FIELD_OF_COLUMN.items()}
    return {"TimeGenerated": record.time, **row}


def from_table_row(row: Mapping[str, Any]) -> dict[str, Any]:
    """The record fields of a table row (e.g. a KQL export), ready for ``verify_chain``."""
    return {name: row[column] for column, name in _RECORD_FIELD_OF_COLUMN.items()}
