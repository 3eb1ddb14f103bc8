"""`mlops report` on a real local home: writes the page and prints its path, limits it with
--since, and on a missing or empty home says so in one line with a hint."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.adapters.clock import SystemClock
from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.domain.audit import AuditEntry
from shared.ops.cli import main
from shared.ops.render.report.html import NO_RECORDS, NONE_IN_PERIOD
from tests.fakes import FakeClock
from tests.integration.test_audit_cli import export_rows


def mlops(*argv: str) -> int:
    return main(list(argv))


def seed(home: Path, entries: Sequence[AuditEntry], start: datetime | None = None) -> None:
    clock = FakeClock(start) if start else SystemClock()
    sink = SqliteAuditSink(home / "audit.db", clock)
    for entry in entries:
        sink.append(entry)
    sink.close()


ENTRIES = [
    AuditEntry("storage", "data.received", "spam:a.tsv", "accepted", "added", "ev-1"),
    AuditEntry("storage", "data.received", "spam:b.tsv", "rejected", "no label column", "ev-2"),
    AuditEntry("ml", "model.registered", "spam-classifier@1", "accepted", "gate passed", "ev-3"),
]


def test_writes_the_report_and_prints_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    seed(home, ENTRIES)
    monkeypatch.chdir(tmp_path)
    assert mlops("--home", str(home), "report") == 0
    written = tmp_path / "report.html"  # the default: the current folder
    assert capsys.readouterr().out.strip() == str(written)
    page = written.read_text(encoding="utf-8")
    assert "3 records verified" in page
    assert "data.received" in page and "Gate decisions" in page

    out = tmp_path / "elsewhere.html"
    assert mlops("--home", str(home), "report", "--output", str(out)) == 0
    assert out.is_file()


def test_since_limits_the_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    seed(tmp_path, ENTRIES[:2], start=datetime.now(UTC) - timedelta(days=3))
    seed(tmp_path, ENTRIES[2:])  # appended now, after the first two
    out = tmp_path / "r.html"
    assert mlops("--home", str(tmp_path), "report", "--output", str(out), "--since", "2h") == 0
    page = out.read_text(encoding="utf-8")
    assert "model.registered" in page and "data.received" not in page
    assert "3 records verified" in page  # the chain is always checked whole

    later = ("--since", "2099-01-01")
    assert mlops("--home", str(tmp_path), "report", "--output", str(out), *later) == 0
    empty = out.read_text(encoding="utf-8")
    assert NONE_IN_PERIOD in empty and NO_RECORDS not in empty and "<svg" not in empty

    assert mlops("--home", str(tmp_path), "report", "--since", "last tuesday") == 2
    assert "not a time" in capsys.readouterr().err


def test_a_missing_home_is_one_line_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "nowhere"
    assert mlops("--home", str(home), "report", "--output", str(tmp_path / "r.html")) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("mlops report: no audit trail at") and "mlops demo" in line
    assert not home.exists() and not (tmp_path / "r.html").exists()


def test_an_empty_trail_is_one_line_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(tmp_path, [])
    assert mlops("--home", str(tmp_path), "report", "--output", str(tmp_path / "r.html")) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert "is empty" in line and "mlops demo" in line
    assert not (tmp_path / "r.html").exists()


def test_a_report_from_an_azure_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Log Analytics rows (as `az monitor log-analytics query -o json` gives them: every
    value a string) make the same charts, with the export's own chain check."""
    seed(tmp_path, ENTRIES)
    exported = tmp_path / "trail.json"
    exported.write_text(json.dumps(export_rows(tmp_path)))
    out = tmp_path / "azure.html"
    nowhere = tmp_path / "no-home"
    args = ("--home", str(nowhere), "report", "--records", str(exported), "--output", str(out))
    assert mlops(*args) == 0
    page = out.read_text(encoding="utf-8")
    assert "not verified" in page  # without the chain key, the hashes prove nothing
    key = tmp_path / "chain.key"  # what `az keyvault secret show ... -o tsv` writes
    key.write_text(json.loads((tmp_path / "secrets.json").read_text())["audit-chain-key"])
    keyed = (*args, "--key-file", str(key))
    assert mlops(*keyed) == 0
    page = out.read_text(encoding="utf-8")
    assert "3 records verified" in page and "Gate decisions" in page
    assert not nowhere.exists()  # an export needs no local state

    exported.write_text("[]")
    assert mlops(*args) == 1
    assert "holds no audit records" in capsys.readouterr().err
