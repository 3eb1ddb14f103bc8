"""train.py under the training job's exact pins (training/environment/train-conda.yml).

`make test` builds .venv-train from that file's pip section (and pytest) and runs this module
there, never in the app's venv: MLflow 2 and azureml-mlflow, as the Azure ML job installs them.
The round trip is the job's: train, evaluate against the champion, log, register, against a
local SQLite and a local file tracking store.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points, version
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]  # MLflow's own dependency

REPO_ROOT = Path(__file__).resolve().parents[2]
CONDA_FILE = REPO_ROOT / "training" / "environment" / "train-conda.yml"
sys.path[:0] = [str(REPO_ROOT / "training" / "src"), str(REPO_ROOT)]

import model_store  # noqa: E402
import train  # noqa: E402

from shared.ops.demo import data as demodata  # noqa: E402  (standard library only)

MODEL = "spam-classifier"


def conda_file() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CONDA_FILE.read_text(encoding="utf-8"))
    return document


def job_pins() -> dict[str, str]:
    (pip,) = [item["pip"] for item in conda_file()["dependencies"] if isinstance(item, dict)]
    return dict(line.split("==", 1) for line in pip)


def test_this_venv_has_exactly_the_job_pins_on_the_job_python() -> None:
    pins = job_pins()
    assert {name: version(name) for name in pins} == pins
    (python,) = [d for d in conda_file()["dependencies"] if str(d).startswith("python=")]
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" == python


def test_azureml_mlflow_plugs_its_stores_into_this_mlflow() -> None:
    """The job's tracking URI is azureml://: the plugin's stores must load with this MLflow."""
    groups = ("mlflow.tracking_store", "mlflow.model_registry_store", "mlflow.artifact_repository")
    for group in groups:
        (plugin,) = [point for point in entry_points(group=group) if point.name == "azureml"]
        assert callable(plugin.load())


@pytest.fixture(params=["sqlite", "file"])
def tracking_uri(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    monkeypatch.chdir(tmp_path)  # a store without an artifact root keeps them under ./mlruns
    store = tmp_path / "mlflow.db" if request.param == "sqlite" else tmp_path / "mlruns"
    uri = f"sqlite:///{store}" if request.param == "sqlite" else store.as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def _job(tmp_path: Path, name: str, *extra: str) -> dict[str, Any]:
    data = demodata.write_tsv(tmp_path / "data" / "part-1.tsv", demodata.generate(900, seed=7))
    argv = ["--data", str(data.parent), "--model-output", str(tmp_path / name)]
    argv += ["--register-name", MODEL, "--job-name", name, *extra]
    assert train.main(argv) == 0
    gate: dict[str, Any] = json.loads((tmp_path / name / "gate.json").read_text(encoding="utf-8"))
    return gate


def test_train_evaluate_log_and_register_round_trip(tracking_uri: str, tmp_path: Path) -> None:
    import mlflow
    from mlflow import MlflowClient

    first = _job(tmp_path, "job-1")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    v1 = client.get_model_version(MODEL, "1")
    assert (v1.tags["job_name"], v1.tags["gate"]) == ("job-1", "passed")
    assert float(v1.tags["f1"]) == pytest.approx(first["metrics"]["f1"], abs=1e-4)

    # What the next job mounts as its champion input: the registered version's model folder.
    champion = Path(
        mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=str(tmp_path / "c"))
    )
    assert "serialization_format: skops" in (champion / "MLmodel").read_text(encoding="utf-8")
    assert "mlflow==2." in (champion / "requirements.txt").read_text(encoding="utf-8")
    assert set(model_store.load(champion).predict(["see you at 7", "WIN a prize"])) <= {
        "ham",
        "spam",
    }

    second = _job(tmp_path, "job-2", "--champion", str(champion))
    assert second["champion_metrics"]["f1"] == pytest.approx(first["metrics"]["f1"])
    v2 = client.get_model_version(MODEL, "2")
    assert v2.tags["job_name"] == "job-2" and v2.run_id
    run = client.get_run(v2.run_id)
    assert run.data.metrics["champion_f1"] == pytest.approx(first["metrics"]["f1"], abs=1e-9)
    logged = {artifact.path for artifact in client.list_artifacts(v2.run_id)}
    assert {"model", "gate.json", "metrics.json", "lineage.json", "model_card.md"} <= logged


def test_the_run_holds_the_deploy_gate_s_evidence(tracking_uri: str, tmp_path: Path) -> None:
    """What the app's gate reads from the job's run, under the job's MLflow: the golden-set
    metrics, the one version the run registered, the job's name; and the version's files
    are the run's ``model`` artifact (how the local registry derives a version's lineage)."""
    from mlflow import MlflowClient

    gate = _job(tmp_path, "job-1")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = client.get_model_version(MODEL, "1")
    run = client.get_run(version.run_id)
    golden = gate["golden_metrics"]
    assert run.data.metrics["golden_accuracy"] == pytest.approx(golden["accuracy"], abs=1e-9)
    assert run.data.metrics["golden_f1"] == pytest.approx(golden["f1"], abs=1e-9)
    assert golden["accuracy"] >= 0.85 and gate["gate"] == "passed"
    tags = run.data.tags
    assert (tags["registered_version"], tags["job_name"], tags["gate"]) == ("1", "job-1", "passed")
    assert version.tags["golden_f1"] == f"{golden['f1']:.4f}"
    assert version.source.rstrip("/") == f"{run.info.artifact_uri.rstrip('/')}/model"


def test_scrambled_labels_fail_the_gate_on_the_golden_set(tmp_path: Path) -> None:
    """Judged on its own (scrambled) held-out split the model looks perfect; the fixed golden
    set shipped with the code says otherwise, with or without a champion."""
    swap = {"ham": "spam", "spam": "ham"}
    rows = [(swap[label], text) for label, text in demodata.generate(900, seed=7)]
    data = demodata.write_tsv(tmp_path / "scrambled" / "part-1.tsv", rows)
    assert train.main(["--data", str(data.parent), "--model-output", str(tmp_path / "out")]) == 0
    gate = json.loads((tmp_path / "out" / "gate.json").read_text(encoding="utf-8"))
    assert gate["metrics"]["accuracy"] > 0.9  # its own split is fooled
    assert gate["gate"] == "failed" and "golden accuracy" in gate["reason"]
