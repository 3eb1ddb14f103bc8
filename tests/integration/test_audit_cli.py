"""`mlops audit`: time and field filters, JSON forms, --follow, verify on tampered trails,
and a Log Analytics export read back; all on a real SQLite trail through `shared.ops.cli.main`."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.domain.audit import AuditEntry, to_table_row
from shared.ops.cli import main
from tests.fakes import FakeClock

MLOPS = Path(sys.executable).parent / "mlops"
START = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
ALICE = {"principal": {"object_id": "a1", "name": "alice", "roles": ["MLOps.Operator"]}}
ENTRIES = (  # (minutes after 10:00, entry)
    (1, AuditEntry("storage", "data.received", "spam:a.csv", "accepted", "ok", "ev-1")),
    (2, AuditEntry("storage", "data.received", "spam:b.csv", "rejected", "bad header", "ev-2")),
    (3, AuditEntry("ml", "rollout.rolled_back", "ep/green m:2", "rolled_back", "smoke", "ev-3")),
    (9, AuditEntry("user:a1", "operator.rollback", "ep", "accepted", "complaints", "op-1", ALICE)),
)


def run(capsys: pytest.CaptureFixture[str], home: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--home", str(home), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def home(tmp_path: Path) -> Path:
    clock = FakeClock(START)
    sink = SqliteAuditSink(tmp_path / "audit.db", clock)
    for minutes, entry in ENTRIES:
        clock.advance((START + timedelta(minutes=minutes) - clock.now()).total_seconds())
        sink.append(entry)
    sink.close()
    return tmp_path


def seqs(out: str) -> list[int]:
    return [record["seq"] for record in json.loads(out)]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (["--since", "2026-11-26T10:02", "--until", "2026-11-26T10:09"], [2, 3]),
        (["--around", "2026-11-26T10:02", "--window", "1m"], [1, 2, 3]),
        (["--outcome", "rejected", "--outcome", "rolled_back"], [2, 3]),
        (["--actor", "user:"], [4]),
        (["--target", "b.csv"], [2]),
        (["--action", "data.", "--limit", "1"], [2]),
        (["--since", "2026-11-26T11:00"], []),
    ],
)
def test_filters_select_records(
    home: Path, capsys: pytest.CaptureFixture[str], filters: list[str], expected: list[int]
) -> None:
    code, out, _ = run(capsys, home, "audit", "--json", *filters)
    assert code == 0
    assert seqs(out) == expected


def test_relative_times_count_back_from_now(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock(datetime.now(UTC) - timedelta(hours=3))
    sink = SqliteAuditSink(tmp_path / "audit.db", clock)
    sink.append(AuditEntry("storage", "data.received", "old", "accepted", "", "ev-old"))
    clock.advance(3 * 3600 - 60)
    sink.append(AuditEntry("storage", "data.received", "new", "accepted", "", "ev-new"))
    sink.close()
    assert seqs(run(capsys, tmp_path, "audit", "--json", "--since", "2h")[1]) == [2]
    assert seqs(run(capsys, tmp_path, "audit", "--json", "--until", "2h")[1]) == [1]


def test_the_table_names_the_person_who_acted(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, home, "audit", "--action", "operator.")
    assert code == 0
    [row] = out.splitlines()[1:]
    assert row.split()[:5] == ["4", "10:09:00", "alice", "operator.rollback", "ep"]
    assert "op-1" in row and "complaints" in row


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "not a time: 'yesterday'"),
        (["--around", "10:02", "--since", "1h"], "--around replaces --since and --until"),
        (["--since", "10:05", "--until", "10:01"], "is not before --until"),
        (["--window", "soon", "--around", "10:02"], "not a duration: 'soon'"),
    ],
)
def test_bad_times_are_one_line_with_a_non_zero_code(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(capsys, home, "audit", *args)
    assert code != 0 and out == ""
    [line] = err.splitlines()
    assert line.startswith("mlops audit: ") and message in line


def test_a_home_without_a_trail_is_refused_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, tmp_path, "audit")
    assert code == 1
    assert "no audit trail at" in err and "hint: run `mlops demo`" in err
    assert not (tmp_path / "audit.db").exists()


def test_json_and_jsonl_hold_the_same_records(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    as_array = json.loads(run(capsys, home, "audit", "--json")[1])
    lines = run(capsys, home, "audit", "--jsonl")[1].splitlines()
    assert [json.loads(line) for line in lines] == as_array
    assert len(as_array) == 4 and all(len(r["hash"]) == 64 for r in as_array)


def tamper(home: Path, *statements: str) -> None:
    with sqlite3.connect(home / "audit.db") as db:  # an attacker with file access
        db.execute("DROP TRIGGER IF EXISTS audit_no_update")
        db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
        for statement in statements:
            db.execute(statement)


@pytest.mark.parametrize(
    ("statements", "seq", "why"),
    [
        (["UPDATE audit SET reason = 'fine' WHERE seq = 2"], 2, "hash does not match"),
        (["DELETE FROM audit WHERE seq = 3"], 3, "expected seq 3, found 4: record 3 is missing"),
        (
            ["UPDATE audit SET hash = 'x' WHERE seq = 1"],
            1,
            "hash does not match record contents",
        ),
    ],
)
def test_verify_names_the_first_broken_link(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    statements: list[str],
    seq: int,
    why: str,
) -> None:
    assert run(capsys, home, "audit", "verify")[0] == 0
    tamper(home, *statements)
    code, out, _ = run(capsys, home, "audit", "verify")
    assert code == 1
    assert f"BROKEN at seq {seq}: {why}" in out
    report = json.loads(run(capsys, home, "audit", "verify", "--json")[1])
    assert (report["valid"], report["first_bad_seq"]) == (False, seq)


def export_rows(home: Path) -> list[dict[str, str]]:
    """What `az monitor log-analytics query -o json` gives: every value a string."""
    sink = SqliteAuditSink(home / "audit.db", FakeClock())
    rows = [to_table_row(record) for record in sink.records()]
    sink.close()
    return [
        {k: json.dumps(v) if k == "Details" else str(v) for k, v in row.items()} for row in rows
    ]


def test_an_exported_slice_verifies_reads_and_explains(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = export_rows(home)
    exported = tmp_path / "rows.json"
    exported.write_text(json.dumps(rows[1:] + rows[2:3]))  # a slice, one row delivered twice
    code, out, _ = run(capsys, home, "audit", "verify", "--records", str(exported))
    assert (code, out.split(":")[0]) == (0, "audit chain valid")
    assert "3 records" in out
    code, out, _ = run(
        capsys, home, "audit", "--json", "--records", str(exported), "--outcome", "rejected"
    )
    assert seqs(out) == [2]
    code, out, _ = run(capsys, home, "explain", "op-1", "--records", str(exported))
    assert code == 0 and "[by alice]" in out

    rows[2]["Reason"] = "nothing to see"
    exported.write_text("\n".join(json.dumps(row) for row in rows))  # JSON lines too
    code, out, _ = run(capsys, home, "audit", "verify", "--records", str(exported))
    assert code == 1 and "BROKEN at seq 3" in out


def test_a_bad_export_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "rows.json"
    bad.write_text('[{"Seq": "1"}]')
    code, _, err = run(capsys, tmp_path, "audit", "--records", str(bad))
    assert code == 1
    assert "row 1 is not an audit record" in err and "hint: export with" in err


def test_follow_prints_new_records_until_interrupted(home: Path) -> None:
    follow = subprocess.Popen(
        [str(MLOPS), "--home", str(home), "audit", "--follow", "--jsonl", "--action", "rollout."],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert follow.stdout is not None
        assert json.loads(follow.stdout.readline())["seq"] == 3  # what matches already
        sink = SqliteAuditSink(home / "audit.db", FakeClock(datetime.now(UTC)))
        sink.append(AuditEntry("ml", "data.received", "x", "accepted", "", "ev-9"))  # filtered
        sink.append(AuditEntry("ml", "rollout.completed", "ep/blue m:3", "succeeded", "", "ev-9"))
        sink.close()
        assert json.loads(follow.stdout.readline())["seq"] == 6
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=10) == 0
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()
