"""The deploy gate's evidence on the real local platform (issue 12, section 2).

One real training job (train.py in a process, MLflow on SQLite) registers version 1; then a
registry writer with the MLflow client forges versions every way the registry lets them:
copies of the model folder registered by hand, a version claiming the job's run, a second
version of the job's own files, a run of their own tagged with the job's name, and tags edited
on the genuine version. Each is refused through ``on_model_registered`` with the reason; the
genuine version passes ``check_gate`` on the evidence read from the job's run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from shared import bootstrap
from shared.adapters.local.ml_platform import LocalMLPlatform
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.devhost import delivery
from shared.domain.errors import Rejected
from shared.domain.values import TrainingJobRequest
from shared.ops.demo import data as demodata
from shared.ports import NotFound
from shared.services.deps import Deps
from shared.services.injection import inject
from shared.services.model_registered import check_gate
from shared.services.reconciler import JOB
from shared.settings import Settings, service_settings
from tests.conftest import model_registered
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)

pytestmark = pytest.mark.slow

MODEL = "spam-classifier"
JOB_NAME = "job-v1"
DATA_URL = "http://127.0.0.1:10000/devstoreaccount1/training-data/spam"
TOPIC = (
    "/subscriptions/0/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
)
PERFECT = {"gate": "passed", "gate_reason": "beats champion", "accuracy": "1.0", "f1": "1.0"}


@dataclass
class Trained:
    platform: LocalMLPlatform
    client: Any  # MlflowClient on the platform's registry
    run_id: str  # the job's run, as its registered.json names it
    model_dir: Path  # version 1's files


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("forged")
    data = root / "data" / "spam"
    demodata.write_tsv(data / "part-1.tsv", demodata.generate(1500, seed=11))
    events: list[Mapping[str, Any]] = []

    def resolve(url: str) -> Path:
        if url != DATA_URL:
            raise NotFound(url)
        return data

    platform = LocalMLPlatform(
        home=root / "home",
        resolve_data=resolve,
        publish=events.append,
        workspace_topic=TOPIC,
        repo_root=REPO_ROOT,
    )
    platform.submit_job(TrainingJobRequest(JOB_NAME, "spam", DATA_URL, MODEL, None))
    job = platform.wait_for_job(JOB_NAME, timeout=180)
    assert job.status == "completed", job
    outputs = root / "home" / "ml" / "jobs" / JOB_NAME / "outputs"
    registered = json.loads((outputs / "registered.json").read_text())
    uri = f"sqlite:///{(root / 'home' / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    yield Trained(platform, client, registered["run_id"], outputs / "model")
    platform.close()


@pytest.fixture
def deps(trained: Trained) -> Iterator[Deps]:
    """The app's services on the local platform; the job is recorded as the reconciler
    records a job it submits."""
    clock = FakeClock()
    state = InMemoryStateStore()
    state.put(JOB, JOB_NAME, {"dataset": "spam", "status": "completed"}, etag=None)
    smoke = load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")
    built = Deps(
        service_settings(Settings()),
        trained.platform,
        InMemoryBlobStore(),
        state,
        NoSecrets(),
        RecordingAuditSink(clock),
        clock,
        smoke,
        InMemoryContainerRegistry(clock),
    )
    bootstrap.install(built)
    yield built
    bootstrap.install(None)


def refused(deps: Deps, version: str, tags: dict[str, str] | None = None) -> str:
    delivery.invoke("on_model_registered", model_registered(MODEL, version, tags or PERFECT))
    audit = deps.audit
    assert isinstance(audit, RecordingAuditSink)
    [entry] = [e for e in audit.entries if e.action == "model.registered"]
    assert entry.outcome == "rejected", entry
    return entry.reason


def test_the_job_s_own_version_passes_on_the_evidence_of_its_run(
    trained: Trained, deps: Deps
) -> None:
    model = trained.platform.get_model(MODEL, "1")
    assert (model.run_id, model.job_name) == (trained.run_id, JOB_NAME)
    evidence = inject(check_gate, deps)(model)
    assert (evidence.job_name, evidence.run_id) == (JOB_NAME, trained.run_id)
    assert {"accuracy", "f1", "golden_accuracy", "golden_f1"} <= set(evidence.metrics)


def test_the_same_version_is_refused_when_this_app_did_not_submit_its_job(
    trained: Trained, deps: Deps
) -> None:
    fresh = InMemoryStateStore()  # an app that never submitted job-v1
    with pytest.raises(Rejected, match="was not submitted by this app"):
        check_gate(
            trained.platform.get_model(MODEL, "1"),
            platform=deps.platform,
            state=fresh,
            settings=deps.settings,
        )


def test_a_copy_of_the_model_registered_by_hand_with_forged_tags_is_refused(
    trained: Trained, deps: Deps
) -> None:
    tags = {**PERFECT, "job_name": JOB_NAME, "registered_version": "1"}
    copy = trained.platform.register_model_dir(MODEL, trained.model_dir, tags)
    assert "not produced by a training job" in refused(deps, copy.version, tags)


def test_a_version_that_claims_the_job_s_run_but_holds_other_files_is_refused(
    trained: Trained, deps: Deps, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "model"
    elsewhere.mkdir()
    version = trained.client.create_model_version(
        MODEL, elsewhere.as_uri(), run_id=trained.run_id, tags=PERFECT
    )
    assert "not produced by a training job" in refused(deps, str(version.version))


def test_a_second_version_of_the_job_s_own_files_is_refused(trained: Trained, deps: Deps) -> None:
    run = trained.client.get_run(trained.run_id)
    source = f"{run.info.artifact_uri}/model"
    version = trained.client.create_model_version(
        MODEL, source, run_id=trained.run_id, tags=PERFECT
    )
    reason = refused(deps, str(version.version))
    assert f"job {JOB_NAME} registered version 1, not {version.version}" in reason


def test_a_run_of_their_own_tagged_with_the_job_s_name_is_refused(
    trained: Trained, deps: Deps
) -> None:
    experiment = trained.client.get_run(trained.run_id).info.experiment_id
    run = trained.client.create_run(experiment, tags={"job_name": JOB_NAME, **PERFECT})
    trained.client.log_metric(run.info.run_id, "accuracy", 1.0)
    trained.client.log_artifacts(run.info.run_id, str(trained.model_dir), "model")
    source = f"{run.info.artifact_uri}/model"
    version = trained.client.create_model_version(MODEL, source, run_id=run.info.run_id)
    reason = refused(deps, str(version.version))
    assert f"not job {JOB_NAME}'s model" in reason


def test_metric_tags_edited_on_the_genuine_version_are_refused(
    trained: Trained, deps: Deps
) -> None:
    original = trained.client.get_model_version(MODEL, "1").tags["accuracy"]
    trained.client.set_model_version_tag(MODEL, "1", "accuracy", "1.0000")
    try:
        with pytest.raises(Rejected, match=r"tag accuracy=1\.0000 disagrees with the job's run"):
            inject(check_gate, deps)(trained.platform.get_model(MODEL, "1"))
    finally:
        trained.client.set_model_version_tag(MODEL, "1", "accuracy", original)
    assert inject(check_gate, deps)(trained.platform.get_model(MODEL, "1")).job_name == JOB_NAME
