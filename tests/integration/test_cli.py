"""`mlops audit`, `mlops audit verify` and `mlops status` on a real local home."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from shared.adapters.clock import SystemClock
from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.domain.audit import AuditEntry
from shared.ops.cli import main


@pytest.fixture
def home(tmp_path: Path) -> Path:
    sink = SqliteAuditSink(tmp_path / "audit.db", SystemClock())
    sink.append(AuditEntry("storage", "data.received", "spam:a.csv", "accepted", "ok", "ev-1"))
    sink.append(
        AuditEntry("ml", "rollout.rolled_back", "ep/green m:2", "rolled_back", "smoke", "ev-2")
    )
    sink.append(
        AuditEntry("user:alice", "operator.rollback", "ep", "accepted", "complaints", "op-1")
    )
    sink.close()
    return tmp_path


def test_audit_prints_a_table(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["SEQ", "TIME", "UTC", "ACTOR", "ACTION"]
    assert len(lines) == 4
    assert "rolled_back" in lines[2]


def test_audit_filters_and_json(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(home), "audit", "--json", "--action", "rollout."]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["seq"] == 2
    assert record["correlation_id"] == "ev-2"
    assert len(record["hash"]) == 64

    assert main(["--home", str(home), "audit", "--jsonl", "--correlation-id", "op-1"]) == 0
    assert json.loads(capsys.readouterr().out)["actor"] == "user:alice"


def test_audit_verify_passes_then_catches_tampering(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--home", str(home), "audit", "verify"]) == 0
    assert "valid: 3 records" in capsys.readouterr().out

    with sqlite3.connect(home / "audit.db") as db:  # an attacker with file access
        db.execute("DROP TRIGGER audit_no_update")
        db.execute("UPDATE audit SET actor = 'user:mallory' WHERE seq = 3")
    assert main(["--home", str(home), "audit", "verify"]) == 1
    assert "BROKEN at seq 3" in capsys.readouterr().out


def test_status_on_an_empty_home(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--home", str(tmp_path), "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["endpoint"]["deployments"] == []
    assert report["pending_events"] == 0
    assert report["audit"] == {
        "records": 0,
        "chain_valid": True,
        "first_bad_seq": None,
        "problem": "",
    }
