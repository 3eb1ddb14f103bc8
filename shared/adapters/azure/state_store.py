"""The state store on azure-data-tables: one row per document, ETag compare-and-set.

PartitionKey is the kind, RowKey the key (both encoded, see ``_table_keys``), and the
document is compact JSON in ``Value`` (split over ``Value1``.. when longer than one
property may hold). A document of a kind in INDEXED with its field set also has an index row in its
partition, written in the same transaction, so list_where reads the matches only.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError

from shared.adapters.azure._errors import sdk_options, translated
from shared.adapters.azure._table_keys import decode_key, encode_key, prefix_range
from shared.domain.values import Stored
from shared.ports import INDEXED, ConcurrencyConflict

if TYPE_CHECKING:
    from azure.data.tables import TableClient, TableEntity

# A string property holds 64 KiB of UTF-16: 32,768 ASCII characters (the JSON is ASCII).
CHUNK_CHARS = 32_000
# An entity holds 1 MiB in all; leave room for keys and system properties.
MAX_CHUNKS = 15
_CONFLICT_STATUS = frozenset({404, 409, 412})  # missing, exists, changed
# Index rows' RowKeys start with it; no document's does (encode_key writes "~" only as "~XX").
_INDEX_MARK = "~~"


def open_table(service_url: str, table: str, credential: Any, **client_options: Any) -> TableClient:
    """A client for ``table``, created if absent (idempotent; run once at start-up)."""
    from azure.data.tables import TableClient

    client = TableClient(
        service_url.rstrip("/"), table, credential=credential, **sdk_options(client_options)
    )
    # suppress: another instance (or an earlier start) created it first.
    with translated(f"table {table}"), suppress(ResourceExistsError):
        try:
            client.create_table()
        except HttpResponseError as error:
            # In Azure the Bicep creates the table and the app's role is scoped to it, which
            # may not include creating tables: a 403 here is not a reason to stop.
            if error.status_code != 403:
                raise
    return client


class AzureStateStore:
    def __init__(self, table: TableClient) -> None:
        self._table = table

    def __repr__(self) -> str:
        return f"AzureStateStore({self._table.url})"

    def get(self, kind: str, key: str) -> Stored | None:
        with translated(f"state {kind}/{key}"):
            try:
                entity = self._table.get_entity(encode_key(kind), encode_key(key))
            except ResourceNotFoundError:
                return None
        return _stored(entity)

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        entity = {"PartitionKey": encode_key(kind), "RowKey": encode_key(key)}
        entity.update(document_properties(f"{kind}/{key}", value))
        index = _index_rows(kind, key, value)
        with translated(f"state {kind}/{key}"):
            try:
                if index:  # the document and its index rows in one entity-group transaction
                    return self._put_indexed(entity, index, etag)
                if etag is None:
                    written = self._table.create_entity(entity)
                else:
                    written = self._table.update_entity(
                        entity, _replace(), etag=etag, match_condition=MatchConditions.IfNotModified
                    )
            except HttpResponseError as error:
                if error.status_code in _CONFLICT_STATUS:
                    raise ConcurrencyConflict(f"{kind}/{key} already exists or changed") from None
                raise
        return str(written["etag"])

    def _put_indexed(
        self, entity: dict[str, Any], index: list[dict[str, Any]], etag: str | None
    ) -> str:
        write: Any = (
            ("create", entity)
            if etag is None
            else (
                "update",
                entity,
                {
                    "mode": _replace(),
                    "etag": etag,
                    "match_condition": MatchConditions.IfNotModified,
                },
            )
        )
        upserts = [("upsert", row, {"mode": _replace()}) for row in index]
        answers = self._table.submit_transaction([write, *upserts])
        return str(answers[0]["etag"])

    def list_where(self, kind: str, field: str, values: Collection[str]) -> Sequence[Stored]:
        """Through the index rows (Learn's intra-partition secondary index pattern): one range
        query per value, then each document read and checked; an index row left behind by
        a later write (the old value's row is not deleted in that write) is removed here."""
        if (kind, field) not in INDEXED:
            return [row for row in self.list(kind) if row.value.get(field) in set(values)]
        found: dict[str, Stored] = {}
        for wanted in sorted(set(values)):
            low, high = prefix_range(_index_prefix(field, wanted))
            query = "PartitionKey eq @kind and RowKey ge @low"
            query += " and RowKey lt @high" if high else ""
            params = {"kind": encode_key(kind), "low": low, "high": high}
            with translated(f"state {kind} by {field}"):
                hits = list(
                    self._table.query_entities(query, parameters=params, select=["RowKey", "Key"])
                )
            for hit in hits:
                stored = self.get(kind, str(hit["Key"]))
                if stored is not None and stored.value.get(field) == wanted:
                    found[stored.key] = stored
                elif stored is None or stored.value.get(field) not in values:
                    self._drop_index_row(kind, hit)
        return [found[key] for key in sorted(found)]

    def _drop_index_row(self, kind: str, hit: Mapping[str, Any]) -> None:
        with suppress(HttpResponseError):  # another reader removed it first: the same end
            self._table.delete_entity(encode_key(kind), hit["RowKey"])

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        low, high = prefix_range(encode_key(prefix))
        query = "PartitionKey eq @kind"
        params = {"kind": encode_key(kind), "low": low, "high": high}
        query += " and RowKey ge @low" if low else ""
        query += " and RowKey lt @high" if high else ""
        with translated(f"state {kind}/{prefix}*"):
            entities = self._table.query_entities(query, parameters=params)
            rows = [_stored(e) for e in entities if not e["RowKey"].startswith(_INDEX_MARK)]
        # Encoded order is not key order, and a range without an upper bound over-fetches.
        return sorted((row for row in rows if row.key.startswith(prefix)), key=lambda r: r.key)


def _index_prefix(field: str, value: str) -> str:
    return f"{_INDEX_MARK}{field}~{encode_key(value)}~"


def _index_rows(kind: str, key: str, value: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per indexed field the document has, in the document's partition, named by
    field, value and key; it holds the key (the document stays the one source of truth)."""
    rows = []
    for indexed_kind, field in INDEXED:
        if indexed_kind == kind and isinstance(field_value := value.get(field), str):
            row_key = _index_prefix(field, field_value) + encode_key(key)
            rows.append({"PartitionKey": encode_key(kind), "RowKey": row_key, "Key": key})
    return rows


def document_properties(name: str, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as compact ASCII JSON in ``Value``, ``Value1``, ... and ``Chunks``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    chunks = [text[start : start + CHUNK_CHARS] for start in range(0, len(text), CHUNK_CHARS)]
    if len(chunks) > MAX_CHUNKS:
        raise ValueError(
            f"state document {name} is {len(text)} characters of JSON; "
            f"a row holds at most {CHUNK_CHARS * MAX_CHUNKS}"
        )
    properties: dict[str, Any] = {"Chunks": len(chunks)}
    for index, chunk in enumerate(chunks or [""]):
        properties[f"Value{index or ''}"] = chunk
    return properties


def document_value(entity: Mapping[str, Any]) -> Any:
    count = int(entity.get("Chunks", 1))
    return json.loads("".join(str(entity[f"Value{i or ''}"]) for i in range(max(count, 1))))


def _stored(entity: TableEntity) -> Stored:
    return Stored(
        decode_key(entity["RowKey"]), document_value(entity), str(entity.metadata["etag"])
    )


def _replace() -> Any:
    from azure.data.tables import UpdateMode

    return UpdateMode.REPLACE
