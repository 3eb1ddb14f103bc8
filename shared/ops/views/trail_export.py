"""Audit records exported from Log Analytics (`az monitor log-analytics query` JSON, or
JSON lines), read back as records so `mlops audit`, `verify` and `explain` work on Azure's
copy of the trail too."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shared.domain.audit import GENESIS_HASH, AuditRecord, ChainKey, ChainReport, from_table_row
from shared.domain.audit_verify import verify_chain


class BadExport(ValueError):
    pass


def load_export(path: Path) -> list[AuditRecord]:
    """Records in ``path`` in seq order; a record exported twice (same seq and hash) once."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise BadExport(f"cannot read {path}: {error.strerror}") from None
    rows = _rows(text, path)
    records: dict[tuple[int, str], AuditRecord] = {}
    for number, row in enumerate(rows, 1):
        record = _record(row, f"{path}: row {number}")
        records.setdefault((record.seq, record.hash), record)
    return sorted(records.values(), key=lambda r: (r.seq, r.hash))


def verify_export(
    records: list[AuditRecord],
    key: ChainKey | None = None,
    anchor: Mapping[str, Any] | None = None,
) -> ChainReport:
    """Check an exported slice from its first record's seq and prev_hash: every link and,
    with ``key``, every keyed hash and checkpoint; with ``anchor`` (the head row), that no
    newest records are missing. Without the key the report is never valid."""
    first = records[0] if records else None
    dicts = (r.to_dict() for r in records)
    return verify_chain(
        dicts,
        key=key,
        first_seq=first.seq if first else 1,
        prev_hash=first.prev_hash if first else GENESIS_HASH,
        anchor=anchor,
    )


def load_anchor(path: Path) -> dict[str, Any]:
    """The head row as `az storage entity show ... -o json` prints it (Seq, Hash, Mac), or
    the local state store's anchor document (seq, hash, mac)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadExport(f"cannot read {path}: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadExport(f"{path} is not a JSON object") from None
    if not isinstance(doc, dict):
        raise BadExport(f"{path} is not a JSON object")
    return doc


def load_key(path: Path) -> ChainKey:
    """The chain key as hex text (`az keyvault secret show ... --query value -o tsv`)."""
    try:
        return ChainKey.from_text(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise BadExport(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BadExport(f"{path}: {error}") from None  # never echoes the file's text


def _rows(text: str, path: Path) -> list[Mapping[str, Any]]:
    try:
        if text.lstrip().startswith("["):
            doc = json.loads(text)
        else:
            doc = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as error:
        message = f"{path} is not JSON or JSON lines: {error.msg} (line {error.lineno})"
        raise BadExport(message) from None
    if not isinstance(doc, list) or not all(isinstance(row, Mapping) for row in doc):
        raise BadExport(f"{path} holds no list of records")
    return doc


def _record(row: Mapping[str, Any], where: str) -> AuditRecord:
    """A table row (Seq, EventTime, ... as Log Analytics names them, values often strings)
    or a record as `mlops audit --json` prints it."""
    try:
        fields = dict(from_table_row(row)) if "Seq" in row else _record_fields(row)
        fields["seq"] = int(fields["seq"])
        fields["schema_version"] = int(fields["schema_version"])
        if isinstance(fields["details"], str):
            fields["details"] = json.loads(fields["details"] or "{}")
        return AuditRecord(**fields)
    except (KeyError, TypeError, ValueError) as error:
        raise BadExport(f"{where} is not an audit record: {error}") from None


def _record_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    names: Iterable[str] = AuditRecord.__dataclass_fields__
    return {name: row[name] for name in names}
