"""train.py names the files it skipped on its MLflow run, under the job's MLflow pins: on
Azure ML the run is where the app reads them back (shared/adapters/azure/ml_runs.py), so a
bad file is quarantined there as it is locally from validation.json."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO_ROOT / "training" / "src"), str(REPO_ROOT)]

import skipped_tag  # noqa: E402
import train  # noqa: E402

from shared.ops.demo import data as demodata  # noqa: E402  (standard library only)

MODEL = "spam-classifier"


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from mlflow import MlflowClient

    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def decoded(value: str) -> dict[str, Any]:
    assert len(value) <= skipped_tag.MAX_TAG_CHARS
    raw = base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True)
    document: dict[str, Any] = json.loads(raw)
    return document


def run_tags(client: Any) -> list[dict[str, str]]:
    (experiment,) = client.search_experiments()
    return [dict(run.data.tags) for run in client.search_runs([experiment.experiment_id])]


def job(tmp_path: Path, data: Path) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "out"
    argv = ["--data", str(data), "--model-output", str(out), "--register-name", MODEL]
    code = train.main([*argv, "--job-name", "job-1"])
    report: dict[str, Any] = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    return code, report


def test_the_registering_run_names_the_skipped_files_as_validation_json_does(
    client: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    demodata.write_tsv(data / "good.tsv", demodata.generate(400, seed=3))
    (data / "latin-1.csv").write_bytes("label,text\nham,café\n".encode("latin-1"))
    (data / "sub").mkdir()
    (data / "sub" / "no text.tsv").write_bytes(b"label\tbody\nham\thello\n")

    code, report = job(tmp_path, data)

    assert code == train.EXIT_TRAINED
    (tags,) = run_tags(client)
    assert tags["registered_version"] == "1"
    assert decoded(tags["skipped_files"]) == {"files": report["skipped_files"], "omitted": 0}
    assert set(report["skipped_files"]) == {"latin-1.csv", "sub/no text.tsv"}
    version = client.get_model_version(MODEL, "1")
    assert "skipped_files" not in version.tags  # the run's record, not the version's


def test_a_job_whose_every_file_is_bad_still_names_them_on_its_run(
    client: Any, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "a.csv").write_bytes(b"\xff\xfe not utf-8\n")
    (data / "b.jsonl").write_bytes(b"not json\n")

    code, report = job(tmp_path, data)

    assert code == train.EXIT_INVALID_DATA
    (tags,) = run_tags(client)
    assert decoded(tags["skipped_files"])["files"] == report["skipped_files"]
    assert set(report["skipped_files"]) == {"a.csv", "b.jsonl"}


def test_a_job_that_skipped_nothing_adds_no_tag(client: Any, tmp_path: Path) -> None:
    demodata.write_tsv(tmp_path / "data" / "good.tsv", demodata.generate(400, seed=3))

    assert job(tmp_path, tmp_path / "data")[0] == train.EXIT_TRAINED
    (tags,) = run_tags(client)
    assert "skipped_files" not in tags


def test_past_the_bound_files_are_kept_in_name_order_and_the_rest_counted() -> None:
    reason = "not valid UTF-8 (byte 0xff at offset 0) " * 20  # cut to REASON_CHARS
    skipped = {f"batch-{i:03d}/part é {i}.csv": reason for i in range(200)}

    value = skipped_tag.encode(skipped)

    document = decoded(value)
    kept = document["files"]
    assert 0 < len(kept) < len(skipped)
    assert document["omitted"] == len(skipped) - len(kept)
    assert list(kept) == sorted(skipped)[: len(kept)]
    assert set(kept.values()) == {reason[: skipped_tag.REASON_CHARS]}
    assert len(value) > skipped_tag.MAX_TAG_CHARS - 600  # no room left for one more


def test_the_longest_name_the_app_accepts_always_fits() -> None:
    """check_blob_path allows 1,024 UTF-8 bytes: one such file is always named, so every job
    quarantines at least one of the files it skipped."""
    name = "é" * 512
    value = skipped_tag.encode({name: "x" * 10_000, "z.csv": "bad"})
    assert name in decoded(value)["files"]
