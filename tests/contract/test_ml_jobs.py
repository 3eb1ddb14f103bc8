"""Contract: training jobs and the model registry through a real MLClient, on the wire."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from azure.ai.ml import load_job
from azure.ai.ml.entities import Command

from shared.domain.values import ModelRef, TrainingJobRequest
from shared.ports import NotFound, TransientError
from tests.contract.ml_workspace import (
    ARM_SCOPE,
    REPO,
    WORKSPACE,
    Workspace,
    echo,
    model_version,
    run_answer,
)
from tests.contract.recording import Canned, Recorded, error

JOB = "train-spam-1a65d59dd14cbcd9"
TEMPLATE = str(yaml.safe_load((REPO / "training/jobs/train.yml").read_text())["command"])
PREFIX = "https://stmlopsdata.blob.core.windows.net/training-data/spam/"
REQUEST = TrainingJobRequest(
    name=JOB,
    dataset="spam",
    data_url=PREFIX,
    model_name="spam-classifier",
    champion=ModelRef("spam-classifier", "3"),
    tags={"event_id": "ev-1", "blob_url": PREFIX + "batch-2/part-001.tsv", "blob_etag": '"0x8D"'},
    files=(PREFIX + "batch-2/part-001.tsv", PREFIX + "batch-2/part 002.tsv"),
)


def optional_inputs() -> dict[str, str]:
    """train.yml's declared optional inputs and their types (a comment: see its header)."""
    text = (REPO / "training/jobs/train.yml").read_text(encoding="utf-8")
    return dict(re.findall(r"^#   (\w+): (\w+) \(", text, flags=re.MULTILINE))


def job_resource(status: str, **tags: str) -> dict[str, Any]:
    return {
        "id": f"{WORKSPACE}/jobs/{JOB}",
        "name": JOB,
        "properties": {
            "jobType": "Command",
            "status": status,
            "command": "python train.py",
            "environmentId": f"{WORKSPACE}/environments/env/versions/1",
            "computeId": f"{WORKSPACE}/computes/cpu-cluster",
            "experimentName": "spam-classifier",
            "tags": tags,
        },
    }


def created(request: Recorded) -> Canned:
    """The service accepts a job as NotStarted."""
    response = echo(request)
    response.body["properties"]["status"] = "NotStarted"
    return response


@pytest.fixture
def ws() -> Workspace:
    return Workspace()


def _created(ws: Workspace) -> None:
    ws.add("GET", f"/jobs/{JOB}", error(404, "UserError", f"Job {JOB} not found"))
    ws.code_exists()
    ws.environments_echo()


def test_submit_creates_the_job_from_train_yml_with_typed_inputs(ws: Workspace) -> None:
    _created(ws)
    ws.add("PUT", f"/jobs/{JOB}", created)

    job = ws.platform.submit_job(REQUEST)

    assert (job.name, job.status) == (JOB, "queued")
    put = ws.one("PUT", f"/jobs/{JOB}")
    assert put.query["api-version"] == "2025-01-01-preview"
    body = put.json()["properties"]
    template = load_job(REPO / "training/jobs/train.yml")
    assert isinstance(template, Command)
    assert body["command"] == template.command  # unchanged: no request value in it
    assert body["jobType"] == "Command"
    assert body["experimentName"] == "spam-classifier"
    assert body["computeId"] == f"{WORKSPACE}/computes/cpu-cluster"
    assert body["codeId"] == f"{WORKSPACE}/codes/src-code/versions/1"
    assert body["environmentId"].startswith(
        f"{WORKSPACE}/environments/CliV2AnonymousEnvironment/versions/"
    )
    inputs = body["inputs"]
    assert inputs["training_data"] == {
        "jobInputType": "uri_folder",
        "uri": "azureml://datastores/training_data/paths/spam/",  # not the https blob URL
        "mode": "ReadOnlyMount",
    }
    assert inputs["job_name"] == {"jobInputType": "literal", "value": JOB}
    assert inputs["champion"] == {
        "jobInputType": "mlflow_model",
        "uri": f"{WORKSPACE}/models/spam-classifier/versions/3",
    }
    assert inputs["model_name"] == {"jobInputType": "literal", "value": "spam-classifier"}
    assert inputs["accepted_files"]["jobInputType"] == "literal"
    encoded = inputs["accepted_files"]["value"]
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", encoded), "only shell-inert characters"
    assert json.loads(base64.urlsafe_b64decode(encoded)) == [
        "batch-2/part-001.tsv",
        "batch-2/part 002.tsv",
    ]
    assert "--accepted-files ${{inputs.accepted_files}}" in body["command"]
    lineage = inputs["lineage"]["value"]
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", lineage)
    assert json.loads(base64.urlsafe_b64decode(lineage)) == body["tags"]
    assert body["tags"] == {
        "model_name": "spam-classifier",
        "dataset": "spam",
        "accepted_files": "2",
        **REQUEST.tags,
    }
    assert ws.credential.requested() == {ARM_SCOPE}


def test_the_anonymous_environment_is_train_yml_s_image_and_conda_file(ws: Workspace) -> None:
    _created(ws)
    ws.add("PUT", f"/jobs/{JOB}", created)

    ws.platform.submit_job(REQUEST)

    env = ws.one("PUT", "/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]+").json()
    assert env["properties"]["image"] == (
        "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"
    )
    assert "scikit-learn" in env["properties"]["condaFile"]


def test_every_optional_input_is_sent_with_the_type_train_yml_declares(ws: Workspace) -> None:
    _created(ws)
    ws.add("PUT", f"/jobs/{JOB}", created)

    ws.platform.submit_job(REQUEST)

    sent = ws.one("PUT", f"/jobs/{JOB}").json()["properties"]["inputs"]
    declared = optional_inputs()
    assert set(declared) == set(re.findall(r"\$\[\[[^]]*\$\{\{inputs\.(\w+)\}\}", TEMPLATE))
    assert {name: sent[name]["jobInputType"] for name in declared} == {
        name: "literal" if kind == "string" else kind for name, kind in declared.items()
    }


def test_data_outside_the_datastore_container_is_refused_before_any_create(
    ws: Workspace,
) -> None:
    ws.add("GET", f"/jobs/{JOB}", error(404, "UserError", f"Job {JOB} not found"))
    elsewhere = "https://stmlopsdata.blob.core.windows.net/other/spam/"

    with pytest.raises(ValueError, match="outside"):
        ws.platform.submit_job(TrainingJobRequest(JOB, "spam", elsewhere, "spam-classifier", None))

    assert [r.method for r in ws.transport.requests] == ["GET"]


def test_a_first_model_trains_without_a_champion_input(ws: Workspace) -> None:
    _created(ws)
    ws.add("PUT", f"/jobs/{JOB}", created)

    ws.platform.submit_job(TrainingJobRequest(JOB, "spam", PREFIX, "spam-classifier", None))

    inputs = ws.one("PUT", f"/jobs/{JOB}").json()["properties"]["inputs"]
    assert "champion" not in inputs
    assert "accepted_files" not in inputs


def test_an_existing_job_is_returned_without_a_create(ws: Workspace) -> None:
    ws.add("GET", f"/jobs/{JOB}", Canned(200, job_resource("Running")))

    assert ws.platform.submit_job(REQUEST).status == "running"

    assert [r.method for r in ws.transport.requests] == ["GET"]


def test_a_create_that_loses_the_race_returns_the_winner(ws: Workspace) -> None:
    ws.add(
        "GET",
        f"/jobs/{JOB}",
        error(404, "UserError", "not found"),
        Canned(200, job_resource("Queued")),
    )
    ws.code_exists()
    ws.environments_echo()
    ws.add("PUT", f"/jobs/{JOB}", error(409, "Conflict", f"Job {JOB} already exists"))

    assert ws.platform.submit_job(REQUEST).status == "queued"
    ws.transport.assert_consumed()


def test_throttling_is_transient_after_the_sdk_honours_retry_after(ws: Workspace) -> None:
    ws.add(
        "GET",
        f"/jobs/{JOB}",
        error(429, "TooManyRequests", "slow down", **{"Retry-After": "7"}),
        repeat=True,
    )

    with pytest.raises(TransientError, match=r"429.*Retry-After 7s"):
        ws.platform.submit_job(REQUEST)

    assert ws.transport.sleeps and set(ws.transport.sleeps) == {7.0}


def test_a_server_error_on_create_is_transient(ws: Workspace) -> None:
    _created(ws)
    ws.add("PUT", f"/jobs/{JOB}", error(500, "InternalServerError", "boom"), repeat=True)

    with pytest.raises(TransientError, match="500"):
        ws.platform.submit_job(REQUEST)


def test_a_bad_request_is_a_value_error_with_the_service_message(ws: Workspace) -> None:
    _created(ws)
    ws.add("PUT", f"/jobs/{JOB}", error(400, "UserError", "Compute cpu-cluster not found"))

    with pytest.raises(ValueError, match="Compute cpu-cluster not found"):
        ws.platform.submit_job(REQUEST)


def ended(ws: Workspace, *answers: Canned) -> None:
    """An ended job's run, read for the files it skipped (none by default)."""
    ws.tracking()
    ws.run(JOB, *(answers or (Canned(200, run_answer(JOB)),)))


@pytest.mark.parametrize(
    ("azure", "domain"),
    [
        ("NotStarted", "queued"),
        ("Preparing", "queued"),
        ("Running", "running"),
        ("Finalizing", "running"),
        ("Failed", "failed"),
        ("CancelRequested", "canceled"),
        ("Canceled", "canceled"),
    ],
)
def test_job_states_map_onto_the_domain(ws: Workspace, azure: str, domain: str) -> None:
    ws.add("GET", f"/jobs/{JOB}", Canned(200, job_resource(azure)))
    if domain in ("failed", "canceled"):
        ended(ws)

    job = ws.platform.get_job(JOB)

    assert (job.status, job.model) == (domain, None)
    assert ws.one("GET", f"/jobs/{JOB}").query["api-version"] == "2024-01-01-preview"


def test_a_completed_job_reports_the_version_it_registered(ws: Workspace) -> None:
    ws.add(
        "GET", f"/jobs/{JOB}", Canned(200, job_resource("Completed", model_name="spam-classifier"))
    )
    versions = [model_version("spam-classifier", "3", jobName="train-older")]
    versions.append(model_version("spam-classifier", "4", jobName=JOB))
    ws.add("GET", "/models/spam-classifier/versions", Canned(200, {"value": versions}))
    ended(ws)

    job = ws.platform.get_job(JOB)

    assert (job.status, job.model) == ("completed", ModelRef("spam-classifier", "4"))


def test_a_completed_job_finds_its_version_by_the_job_name_tag(ws: Workspace) -> None:
    """train.py tags the version; a version whose lineage names another job is not taken."""
    ws.add(
        "GET", f"/jobs/{JOB}", Canned(200, job_resource("Completed", model_name="spam-classifier"))
    )
    tagged = {"job_name": JOB}
    versions = [model_version("spam-classifier", "4", jobName="train-other", tags=tagged)]
    versions.append(model_version("spam-classifier", "5", tags=tagged))
    ws.add("GET", "/models/spam-classifier/versions", Canned(200, {"value": versions}))
    ended(ws)

    job = ws.platform.get_job(JOB)

    assert job.model == ModelRef("spam-classifier", "5")


def test_a_missing_job_is_not_found(ws: Workspace) -> None:
    ws.add("GET", f"/jobs/{JOB}", error(404, "UserError", "not found"))

    with pytest.raises(NotFound):
        ws.platform.get_job(JOB)


def test_get_model_carries_tags_and_properties(ws: Workspace) -> None:
    version = model_version("spam-classifier", "4")
    version["properties"].update(tags={"gate": "passed", "f1": "0.9600"}, properties={"run": "r1"})
    ws.add("GET", "/models/spam-classifier/versions/4", Canned(200, version))

    model = ws.platform.get_model("spam-classifier", "4")

    assert model.tags == {"gate": "passed", "f1": "0.9600"}
    assert model.properties["run"] == "r1"


def test_a_missing_model_is_not_found(ws: Workspace) -> None:
    ws.add("GET", "/models/spam-classifier/versions/9", error(404, "UserError", "not found"))

    with pytest.raises(NotFound):
        ws.platform.get_model("spam-classifier", "9")


def test_list_models_is_oldest_first(ws: Workspace) -> None:
    versions = [model_version("spam-classifier", v) for v in ("10", "2", "1")]
    ws.add("GET", "/models/spam-classifier/versions", Canned(200, {"value": versions}))

    listed = ws.platform.list_models("spam-classifier")

    assert [m.version for m in listed] == ["1", "2", "10"]


def test_the_datastore_is_the_one_infra_creates_for_the_training_container(ws: Workspace) -> None:
    bicep = (REPO / "infra/modules/ml-workspace.bicep").read_text(encoding="utf-8")
    assert f"param trainingDatastoreName string = '{ws.config.training_datastore}'" in bicep
