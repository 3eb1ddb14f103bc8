"""The audit trail in Azure: one keyed chain across every instance, shipped to Log Analytics.

Each append, in one Table transaction in the state table's audit partition, advances the
chain head (an ETag-guarded row: read head, seal the record, write head only if unchanged,
retry on conflict) and stores the sealed record as an outbox row, plus a checkpoint record
when one is due. Records are sealed with HMAC under the ``audit-chain-key`` Key Vault secret
(read through the SecretStore port). The head row is the chain's anchor outside the trail:
Seq, Hash and Mac, the keyed MAC over them, which `mlops audit verify --anchor` compares
with an export. The head this process last wrote (with the ETag the transaction returned for
it) seals the next record without reading the row again: If-Match still guards the write, so
a head another instance moved answers 412 and the loop reads it as before. Then the pending outbox
rows are uploaded with the Logs Ingestion API (DCR stream into MLOpsAudit_CL) and deleted.
If the upload still fails after the SDK's bounded retries, the record stays in the outbox
and TransientError fails the invocation; the next append (or ``flush``) uploads it again.
A row uploaded twice (deleted after a crash, say) is a duplicate with the same Seq and
Hash: the chain check in KQL dedupes on Seq (``summarize arg_min(TimeGenerated, *) by Seq``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, replace
from datetime import UTC
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from shared.adapters.azure._errors import is_transient, sdk_options, translated
from shared.adapters.azure.state_store import document_properties, document_value
from shared.domain.audit import (
    DEFAULT_CHECKPOINT_EVERY,
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Cadence,
    ChainKey,
    head_mac,
    seal,
    to_table_row,
)
from shared.ports import Clock, TransientError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.data.tables import TableClient, TableEntity
    from azure.monitor.ingestion import LogsIngestionClient

# '~' followed by a lower-case letter never comes out of the state store's key encoding
# (``_table_keys``), so no StateStore kind can share this partition; no '%' in any key.
PARTITION = "~audit"
HEAD = "head"
OUTBOX_PREFIX = "outbox-"
_CAS_ATTEMPTS = 50
_FLUSH_BATCH = 500
log = logging.getLogger("mlops.audit")


@dataclass(frozen=True)
class _Head:
    """The chain head row's state; etag None: no row yet (the first append creates it)."""

    seq: int
    hash: str
    cadence: Cadence
    etag: str | None


def logs_client(endpoint: str, credential: TokenCredential, **options: Any) -> LogsIngestionClient:
    from azure.monitor.ingestion import LogsIngestionClient

    return LogsIngestionClient(endpoint, credential, **sdk_options(options))


class AzureAuditSink:
    def __init__(
        self,
        table: TableClient,
        logs: LogsIngestionClient,
        rule_id: str,
        stream: str,
        clock: Clock,
        *,
        key: Callable[[], ChainKey],
        checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    ) -> None:
        self._table, self._logs, self._clock = table, logs, clock
        self.rule_id, self.stream = rule_id, stream
        self._key, self._every = key, checkpoint_every
        # The head as this process's last transaction left it; None: read the row first.
        self._last: _Head | None = None

    def __repr__(self) -> str:
        return f"AzureAuditSink({self._table.url}, stream={self.stream})"

    def append(self, entry: AuditEntry) -> AuditRecord:
        # Hash what is read back: JSON turns tuples into lists and keys into strings.
        details = json.loads(json.dumps(dict(entry.details), allow_nan=False, default=str))
        record = self._seal(replace(entry, details=details))
        log.info(
            "audit %s %s %s: %s",
            record.action,
            record.target,
            record.outcome,
            record.reason,
            extra={
                "microsoft.custom_event.name": "mlops.audit",
                "correlation_id": record.correlation_id,
                "audit_seq": record.seq,
                "audit_hash": record.hash,
            },
        )
        self.flush()
        return record

    def flush(self) -> int:
        """Upload every pending outbox row, oldest first; return how many were shipped."""
        pending = self._pending()
        if not pending:
            return 0
        try:
            self._logs.upload(rule_id=self.rule_id, stream_name=self.stream, logs=pending)
        except Exception as error:
            if is_transient(error):
                raise TransientError(
                    f"audit upload failed ({len(pending)} record(s) kept in the outbox)"
                ) from error
            raise
        for row in pending:
            self._delete_outbox(int(row["Seq"]))
        return len(pending)

    def _seal(self, entry: AuditEntry) -> AuditRecord:
        key = self._key()
        for _ in range(_CAS_ATTEMPTS):
            # Taken, not kept: a failed or refused transaction leaves no guess behind.
            head, self._last = self._last or self._head(), None
            sealed = seal(
                entry,
                seq=head.seq + 1,
                time=self._clock.now().astimezone(UTC),
                prev_hash=head.hash,
                key=key,
                cadence=head.cadence,
                every=self._every,
            )
            newest = sealed[-1]
            cadence = Cadence(newest.seq, self._every) if len(sealed) > 1 else head.cadence
            new_head = {
                "PartitionKey": PARTITION,
                "RowKey": HEAD,
                "Seq": newest.seq,
                "Hash": newest.hash,
                "Mac": head_mac(key, newest.seq, newest.hash),
                "CheckpointSeq": cadence.seq,
                "CheckpointEvery": cadence.every,
            }
            head_op: tuple[str, dict[str, Any], dict[str, Any]] = ("create", new_head, {})
            if head.etag:
                head_op = ("update", new_head, _if_match(head.etag))
            outbox: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
                ("create", _outbox_row(record), {}) for record in sealed
            ]
            committed = self._commit([head_op, *outbox], updating=head.etag is not None)
            if committed is None:
                continue
            # The head operation's part carries the row's new ETag (absent: read next time).
            if etag := committed[0].get("etag"):
                self._last = _Head(newest.seq, newest.hash, cadence, str(etag))
            return sealed[0]
        raise TransientError("the audit chain head stayed contended; retry the event")

    def _commit(
        self, operations: list[tuple[str, dict[str, Any], dict[str, Any]]], *, updating: bool
    ) -> list[Mapping[str, Any]] | None:
        """Each operation's response metadata; None when the head moved (the batch is void):
        another instance wrote it first (412, or 409 on create), or it is gone (404 on update)."""
        with translated("audit chain head"):
            try:
                return self._table.submit_transaction(operations)
            except HttpResponseError as error:
                if error.status_code in (409, 412) or (updating and error.status_code == 404):
                    return None
                raise

    def _head(self) -> _Head:
        with translated("audit chain head"):
            try:
                row = self._table.get_entity(PARTITION, HEAD)
            except ResourceNotFoundError:
                return _Head(0, GENESIS_HASH, Cadence(0, self._every), None)
        every = row.get("CheckpointEvery")
        cadence = Cadence(int(row.get("CheckpointSeq", 0)), int(every) if every else self._every)
        return _Head(int(row["Seq"]), str(row["Hash"]), cadence, row.metadata["etag"])

    def _pending(self) -> list[MutableMapping[str, Any]]:
        query = "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high"
        params = {"pk": PARTITION, "low": OUTBOX_PREFIX, "high": OUTBOX_PREFIX[:-1] + "."}
        with translated("audit outbox"):
            pages = self._table.query_entities(
                query, parameters=params, results_per_page=_FLUSH_BATCH
            ).by_page()
            first: Iterable[TableEntity] = next(pages, [])
            return [document_value(entity) for entity in first]

    def _delete_outbox(self, seq: int) -> None:
        with translated("audit outbox"):
            self._table.delete_entity(PARTITION, _outbox_key(seq))  # a missing row is fine


def _outbox_row(record: AuditRecord) -> dict[str, Any]:
    return {
        "PartitionKey": PARTITION,
        "RowKey": _outbox_key(record.seq),
        **document_properties(f"audit {record.seq}", to_table_row(record)),
    }


def _outbox_key(seq: int) -> str:
    return f"{OUTBOX_PREFIX}{seq:012d}"  # fixed width: RowKey order is sequence order


def _if_match(etag: str) -> dict[str, Any]:
    from azure.data.tables import UpdateMode

    return {
        "mode": UpdateMode.REPLACE,
        "etag": etag,
        "match_condition": MatchConditions.IfNotModified,
    }
