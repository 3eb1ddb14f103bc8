"""Audit records exported from Log Analytics (`az monitor log-analytics query` JSON, or
JSON lines), read back as records so `mlops audit`, `verify` and `explain` work on Azure's
copy of the trail too."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shared.domain.audit import AuditRecord, ChainReport, from_table_row, verify_chain


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


def verify_export(records: list[AuditRecord]) -> ChainReport:
    """Check the links inside an exported slice, anchored on its first record's prev_hash;
    the slice's first record must then match the record before it in a wider export."""
    if not records:
        return ChainReport(True, 0)
    first = records[0]
    dicts = (r.to_dict() for r in records)
    return verify_chain(dicts, first_seq=first.seq, prev_hash=first.prev_hash)


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
