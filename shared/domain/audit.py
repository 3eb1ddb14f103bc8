"""The audit record (DESIGN.md section 10), its keyed chain, and how a chain is verified.

Every record's ``hash`` is HMAC-SHA256, under a key only the app holds (``ChainKey``), of the
canonical JSON of every other field, ``prev_hash`` included: without the key nobody can edit,
re-seal or append a record that verifies, even by recomputing every hash after it. The head
is anchored outside the trail (``Head``, kept in the state store), and every N records the
sink writes a checkpoint record carrying a keyed MAC over the head, so a trail or an export
that lost its newest records is told apart from a whole one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

# 2: keyed (HMAC-SHA256). 1: the unkeyed SHA-256 chain of earlier versions, which anyone
# can recompute: such records are reported, never taken as valid.
SCHEMA_VERSION = 2
UNKEYED_SCHEMA_VERSION = 1
GENESIS_HASH = "0" * 64
KEY_BYTES = 32
CHECKPOINT_ACTION = "audit.checkpoint"
CHECKPOINT_ACTOR = "mlops"
DEFAULT_CHECKPOINT_EVERY = 100

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


@dataclass(frozen=True)
class ChainKey:
    """The chain's HMAC key (Key Vault in Azure, the 0600 secret store locally). Stored as
    hex text; never shown in a repr, a log line or an error."""

    secret: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.secret) < KEY_BYTES:
            raise ValueError(f"the audit chain key must be at least {KEY_BYTES} bytes")

    @classmethod
    def from_text(cls, text: str) -> ChainKey:
        try:
            secret = bytes.fromhex(text.strip())
        except ValueError:
            raise ValueError("the audit chain key is not hex text") from None  # no echo
        return cls(secret)

    def mac(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


def new_key_text() -> str:
    """A fresh key, as the secret stores hold it."""
    return secrets.token_bytes(KEY_BYTES).hex()


# Text is stored as received, except what UTF-8 cannot encode: a surrogate code point
# (U+D800-U+DFFF, e.g. the valid JSON "\\ud800" of an event field) could be neither hashed,
# nor written to SQLite, nor sent to Azure. The stored form writes each surrogate as U+FFFD
# and its four upper-case hex digits, and each U+FFFD twice, so that it stays reversible
# (``restored_text``); text holding neither is stored unchanged. The hash covers the stored
# form. Decision 150 in architecture/decisions.md.
STORED_MARK = "\ufffd"
_UNSTORABLE = re.compile("[\ud800-\udfff\ufffd]")
_STORED_ESCAPE = re.compile("\ufffd(\ufffd|D[89A-F][0-9A-F]{2})")


def stored_text(text: str) -> str:
    """``text`` in the form the trail stores: always encodable as UTF-8."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(_stored_char, text)


def _stored_char(match: re.Match[str]) -> str:
    char = match.group()
    return STORED_MARK * 2 if char == STORED_MARK else f"{STORED_MARK}{ord(char):04X}"


def restored_text(text: str) -> str:
    """The text ``stored_text`` was given. A lone U+FFFD that escapes nothing (a record
    sealed before the stored form existed) is read as itself."""
    return _STORED_ESCAPE.sub(_restored_char, text)


def _restored_char(match: re.Match[str]) -> str:
    escaped = match.group(1)
    return STORED_MARK if escaped == STORED_MARK else chr(int(escaped, 16))


def stored(value: Any) -> Any:
    """``value`` with every string in it, mapping keys included, in stored form."""
    if isinstance(value, str):
        return stored_text(value)
    if isinstance(value, Mapping):
        return {stored(key): stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(stored(item) for item in value)
    return value


# One encoder for every record: json.dumps with these options builds a new one per call,
# a third of the cost of hashing a record (issue 15). Same options, same text.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(fields: Mapping[str, Any]) -> bytes:
    """The bytes a record's hash covers: compact, key-sorted UTF-8 JSON without ``hash``.
    Total: a forged record's surrogates are encoded as they are (and fail the MAC)."""
    body = dict(fields)
    body.pop("hash", None)
    return _CANONICAL.encode(body).encode("utf-8", "surrogatepass")


def record_hash(fields: Mapping[str, Any], key: ChainKey) -> str:
    """HMAC-SHA256 under ``key`` over ``canonical(fields)``, as lower-case hex."""
    return key.mac(canonical(fields))


def chain(
    entry: AuditEntry, *, seq: int, time: datetime, prev_hash: str, key: ChainKey
) -> AuditRecord:
    """Seal ``entry`` as record number ``seq`` after the record whose hash is ``prev_hash``;
    its text in stored form (``stored_text``)."""
    fields: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "seq": seq,
        "time": time.isoformat(timespec="microseconds"),
        "actor": stored_text(entry.actor),
        "action": stored_text(entry.action),
        "target": stored_text(entry.target),
        "outcome": entry.outcome,
        "reason": stored_text(entry.reason),
        "correlation_id": stored_text(entry.correlation_id),
        "details": stored(dict(entry.details)),
        "prev_hash": prev_hash,
    }
    return AuditRecord(**fields, hash=record_hash(fields, key))


def head_mac(key: ChainKey, seq: int, head_hash: str) -> str:
    """The keyed MAC over a chain head. The message never starts with '{', so it cannot
    be mistaken for a record's canonical JSON."""
    message = f"mlops-audit-head:v{SCHEMA_VERSION}:{seq}:{head_hash}"
    return key.mac(message.encode("utf-8", "surrogatepass"))  # total, even for forged text


@dataclass(frozen=True)
class Head:
    """The anchor: the newest (seq, hash) and its MAC, kept outside the trail."""

    seq: int
    hash: str
    mac: str

    @classmethod
    def sealed(cls, key: ChainKey, record: AuditRecord) -> Head:
        return cls(record.seq, record.hash, head_mac(key, record.seq, record.hash))

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> Head:
        """From the state store's document or an operator's copy of the Azure head row
        (``Seq``, ``Hash``, ``Mac``: any case). Raises ValueError."""
        lowered = {str(name).lower(): value for name, value in doc.items()}
        try:
            seq, found, mac = int(lowered["seq"]), str(lowered["hash"]), str(lowered["mac"])
        except (KeyError, TypeError, ValueError):
            raise ValueError("an anchor needs seq, hash and mac") from None
        return cls(seq, found, mac)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "mac": self.mac}


@dataclass(frozen=True)
class Cadence:
    """Where the last checkpoint is (seq 0: none yet) and within how many records the next
    is due, as that checkpoint promised."""

    seq: int
    every: int

    def due(self, seq: int) -> bool:
        return seq - self.seq >= self.every


def cadence_of(record: Mapping[str, Any] | AuditRecord, default_every: int) -> Cadence:
    """The cadence a stored checkpoint record sets (a damaged one falls back)."""
    fields = record.to_dict() if isinstance(record, AuditRecord) else record
    details = fields.get("details")
    every = details.get("every") if isinstance(details, Mapping) else None
    ok = isinstance(every, int) and every >= 1
    return Cadence(int(fields["seq"]), every if ok and isinstance(every, int) else default_every)


def seal(
    entry: AuditEntry,
    *,
    seq: int,
    time: datetime,
    prev_hash: str,
    key: ChainKey,
    cadence: Cadence,
    every: int,
) -> list[AuditRecord]:
    """``entry`` sealed as ``seq``, followed by a checkpoint when ``cadence`` says one is
    due; the new checkpoint promises the next within ``every`` records (the setting)."""
    record = chain(entry, seq=seq, time=time, prev_hash=prev_hash, key=key)
    if not cadence.due(seq):
        return [record]
    mark = AuditEntry(
        actor=CHECKPOINT_ACTOR,
        action=CHECKPOINT_ACTION,
        target="audit",
        outcome="succeeded",
        reason=f"chain head at seq {seq}; the next checkpoint within {every} records",
        details={
            "head_seq": seq,
            "head_hash": record.hash,
            "head_mac": head_mac(key, seq, record.hash),
            "every": every,
        },
    )
    return [record, chain(mark, seq=seq + 1, time=time, prev_hash=record.hash, key=key)]


@dataclass(frozen=True)
class ChainReport:
    """``valid`` only when every keyed hash was checked and nothing is wrong; ``unchecked``
    says what this check could not cover (no key, no anchor, a slice)."""

    valid: bool
    records: int
    first_bad_seq: int | None = None
    problem: str = ""
    unchecked: tuple[str, ...] = ()


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
