"""Training skips a file it cannot read and reports it; the other files train (issue 12,
section 1): one bad file never fails every later job of its dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.adapters.local.training_jobs import read_outcome, skipped_files
from shared.ops.demo import data as demodata

TRAINING_SRC = Path(__file__).resolve().parents[2] / "training" / "src"
sys.path.insert(0, str(TRAINING_SRC))

import training_data  # noqa: E402  (train.py's own module, imported as the job does)

Rows = list[tuple[str, str]]


@pytest.fixture(scope="module")
def rows() -> Rows:
    return demodata.generate(400, seed=3)


def bad_files(folder: Path) -> dict[str, bytes]:
    """One file per way a file can be unreadable for training."""
    huge = "x" * 200_000  # over the csv module's 131,072-character field limit
    files = {
        "latin-1.csv": "label,text\nham,café\n".encode("latin-1"),
        "huge field.csv": f'label,text\nham,"{huge}"\n'.encode(),
        "sub/no-text.tsv": b"label\tbody\nham\thello\n",
        "broken.jsonl": b'{"label": "ham", "text": "ok"}\n{"label": "spam", "text": \n',
        "deep.jsonl": b"[" * 100_000 + b"]" * 100_000 + b"\n",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def test_each_unreadable_file_is_skipped_with_why_and_the_rest_trains(
    tmp_path: Path, rows: Rows
) -> None:
    good = demodata.write_tsv(tmp_path / "good.tsv", rows)
    bad = bad_files(tmp_path)

    data, files = training_data.load(tmp_path)

    assert data.valid, data.problems
    assert set(data.skipped) == set(bad)
    assert "not valid UTF-8" in data.skipped["latin-1.csv"]
    assert "field larger than field limit" in data.skipped["huge field.csv"]
    assert "missing column(s) text" in data.skipped["sub/no-text.tsv"]
    assert "line 2 is not JSON" in data.skipped["broken.jsonl"]
    assert (
        "nests too deeply" in data.skipped["deep.jsonl"] or "not JSON" in data.skipped["deep.jsonl"]
    )
    assert files == [good]  # the lineage names only what was trained on
    report = data.report()
    assert report["skipped_files"] == data.skipped
    assert (report["stats"]["files"], report["stats"]["files_skipped"]) == (1, len(bad))


def test_when_no_file_can_be_read_the_job_stops_with_every_reason(tmp_path: Path) -> None:
    bad_files(tmp_path)

    data, files = training_data.load(tmp_path)

    assert not data.valid and files == []
    [problem] = [p for p in data.problems if p.startswith("no data file could be read")]
    assert "latin-1.csv: not valid UTF-8" in problem and "huge field.csv" in problem


def test_the_job_reports_skipped_files_where_the_local_platform_reads_them(
    tmp_path: Path, rows: Rows
) -> None:
    data = tmp_path / "data"
    demodata.write_tsv(data / "good.tsv", rows)
    bad_files(data)
    out = tmp_path / "out"
    command = [sys.executable, str(TRAINING_SRC / "train.py"), "--data", str(data)]
    result = subprocess.run(
        [*command, "--model-output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    assert set(report["skipped_files"]) == set(bad_files(tmp_path / "again"))
    assert skipped_files(out) == report["skipped_files"]  # what JobInfo.skipped_files carries
    lineage = json.loads((out / "lineage.json").read_text(encoding="utf-8"))
    assert [f["path"] for f in lineage["files"]] == ["good.tsv"]
    assert read_outcome(out, out / "std_log.txt", 0).status == "failed"  # nothing registered
