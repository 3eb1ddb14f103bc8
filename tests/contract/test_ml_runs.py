"""The Azure adapter's half of the deploy gate's evidence, on the recording transport.

``get_training_run`` reads a job's MLflow run from the workspace's MLflow REST API (the
tracking URI ARM reports, with https; ``/api/2.0/mlflow/runs/get?run_id=<job name>``; an ARM
token), and ``get_model`` takes a version's lineage from where its files are, never from its
``jobName`` or tags alone.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from shared.domain.values import TrainingRun
from shared.ports import NotFound, TransientError
from tests.contract.ml_workspace import (
    ARM_SCOPE,
    RG,
    RUNS_GET,
    SUB,
    WORKSPACE,
    WS,
    Workspace,
    model_version,
    run_answer,
)
from tests.contract.recording import Canned, error

JOB = "train-spam-0123456789abcdef"


def workspace(ws: Workspace, *, tracking: bool = True) -> None:
    ws.tracking(uri=tracking)


def test_a_job_s_run_is_read_from_the_workspace_mlflow_api_with_an_arm_token() -> None:
    ws = Workspace()
    workspace(ws)
    ws.transport.add("GET", RUNS_GET + JOB, Canned(200, run_answer(JOB)), repeat=True)

    run = ws.platform.get_training_run(JOB)
    again = ws.platform.get_training_run(JOB)

    assert again.tags == run.tags
    assert (run.job_name, run.run_id, run.tags["gate"]) == (JOB, JOB, "passed")
    assert run.metrics["accuracy"] == 0.9812 and math.isnan(run.metrics["golden_accuracy"])
    sent, _ = ws.transport.sent("GET", RUNS_GET)
    assert sent.host == "westeurope.api.azureml.ms" and sent.query == {"run_id": JOB}
    assert sent.headers["Authorization"].startswith("Bearer ")
    assert ARM_SCOPE in ws.credential.requested()
    assert len(ws.transport.sent("GET", r"^https://management\.azure\.com/[^?]*/workspaces/")) == 1


def test_without_a_tracking_uri_the_regional_host_of_the_workspace_is_used() -> None:
    ws = Workspace()
    workspace(ws, tracking=False)
    ws.transport.add("GET", RUNS_GET + JOB, Canned(200, run_answer(JOB)))
    assert ws.platform.get_training_run(JOB).run_id == JOB


@pytest.mark.parametrize(
    ("answer", "raised"),
    [
        (Canned(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no run"}), NotFound),
        (Canned(400, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no run"}), NotFound),
        (Canned(429, {"message": "slow down"}), TransientError),
        (Canned(503, "unavailable"), TransientError),
        (error(403, "AuthorizationFailed", "lacks experiments/runs/read"), ValueError),
        (Canned(200, run_answer(run_id="someone-elses-run")), ValueError),
        (Canned(200, {"run": {"data": {}}}), ValueError),
        (Canned(200, run_answer(JOB, metrics=[{"key": "f1", "value": "high"}])), ValueError),
    ],
)
def test_what_the_tracking_server_answers_maps_onto_the_port(
    answer: Canned, raised: type[Exception]
) -> None:
    ws = Workspace()
    workspace(ws)
    ws.transport.add("GET", RUNS_GET + JOB, answer, repeat=True)
    with pytest.raises(raised):
        ws.platform.get_training_run(JOB)


OURS = f"azureml://subscriptions/{SUB}/resourceGroups/{RG}/workspaces/{WS}"
STORE = "datastores/workspaceartifactstore/paths/ExperimentRun"


@pytest.mark.parametrize(
    ("path", "job_name", "lineage"),
    [
        (f"runs:/{JOB}/model", None, JOB),
        (
            f"azureml://westeurope.api.azureml.ms/mlflow/v2.0{WORKSPACE}/experiments/e1/runs/{JOB}/artifacts/model",
            None,
            JOB,
        ),
        (f"azureml://h/mlflow/v2.0{WORKSPACE}/experiments/e1/runs/{JOB}/artifacts/other", None, ""),
        (
            f"azureml://h/mlflow/v2.0/subscriptions/x/resourceGroups/y/providers/Microsoft.MachineLearningServices/workspaces/z/experiments/e1/runs/{JOB}/artifacts/model",
            None,
            "",
        ),
        (f"azureml://jobs/{JOB}/outputs/artifacts/paths/model/", JOB, JOB),
        (f"{OURS}/{STORE}/dcid.{JOB}/model", None, JOB),
        (f"{OURS.upper()}/{STORE}/dcid.{JOB}/model/", JOB, JOB),  # ARM ids: any case
        (f"azureml://{STORE.lower()}/dcid.{JOB}/model", None, JOB),
        # Not the model folder of a run of this workspace:
        (f"runs:/{JOB}/model", "train-other", ""),  # jobName disagrees with the files
        (f"runs:/{JOB}/other-folder", JOB, ""),
        (f"{OURS}/datastores/workspaceblobstore/paths/uploads/model", JOB, ""),
        (
            f"azureml://subscriptions/{SUB}/resourceGroups/rg-x/workspaces/{WS}/{STORE}/dcid.{JOB}/model",
            None,
            "",
        ),
        ("azureml://models/spam-classifier/4", JOB, ""),
        ("https://evil.example/model", JOB, ""),
        ("", JOB, ""),
    ],
)
def test_a_version_s_lineage_comes_from_where_its_files_are(
    path: str, job_name: str | None, lineage: str
) -> None:
    ws = Workspace()
    extra: dict[str, Any] = {"modelUri": path, **({"jobName": job_name} if job_name else {})}
    ws.add(
        "GET",
        "/models/spam-classifier/versions/4",
        Canned(200, model_version("spam-classifier", "4", **extra)),
    )
    model = ws.platform.get_model("spam-classifier", "4")
    assert (model.run_id, model.job_name) == (lineage, lineage)


def test_the_port_type_is_the_domain_s() -> None:
    ws = Workspace()
    workspace(ws)
    ws.transport.add("GET", RUNS_GET + JOB, Canned(200, run_answer(JOB)))
    assert isinstance(ws.platform.get_training_run(JOB), TrainingRun)
