"""A canary judged on live traffic, end to end on the local endpoints: the rollout service
drives real azmlinfsrv deployments behind the real router, users' requests go through the
endpoint by its traffic weights, and the canary's step reads what the router recorded.

The model servers are a stub score.py: it answers the smoke set's labels from a file in its
model folder and, for a model whose folder says so, fails (HTTP 500) on some users' inputs:
a model that passes its smoke test and breaks in front of users.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from shared.adapters.local import inference_server as server
from shared.adapters.local.endpoints import LocalEndpoints
from shared.adapters.local.live_traffic import LocalLiveTraffic
from shared.adapters.local.platform_db import PlatformDB
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.domain.rollout import Phase, Rollout
from shared.domain.values import ModelRef
from shared.ports import MLPlatform, TransientError
from shared.services.deps import Deps
from shared.services.injection import inject
from shared.services.rollout_requests import RolloutPorts, RolloutRequest
from shared.services.rollouts import advance, start_rollout
from shared.settings import Settings, service_settings
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)
from tests.tools import missing_tool

pytestmark = pytest.mark.slow

ENDPOINT, MODEL = "canary-endpoint", "spam-classifier"
SMOKE = load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")
ENTRY_SCRIPT = """
import json
import os
from pathlib import Path

ANSWERS = {}
FAIL_ON = ""

def init():
    global ANSWERS, FAIL_ON
    model = json.loads((Path(os.environ["AZUREML_MODEL_DIR"]) / "model.json").read_text())
    ANSWERS, FAIL_ON = model["answers"], model["fail_on"]

def run(raw_data):
    texts = json.loads(raw_data)["data"]
    if FAIL_ON and any(FAIL_ON in text for text in texts):
        raise RuntimeError("this model cannot score that")
    return {"predictions": [
        {"label": ANSWERS.get(text, "ham"), "probability": 0.9} for text in texts
    ]}
"""


@dataclass
class Stage:
    deps: Deps
    endpoints: LocalEndpoints
    clock: FakeClock
    audit: RecordingAuditSink
    models: Path

    def model(self, version: str, *, fail_on: str = "") -> ModelRef:
        folder = self.models / version
        folder.mkdir()
        answers = {text: label for label, text in SMOKE}
        (folder / "model.json").write_text(json.dumps({"answers": answers, "fail_on": fail_on}))
        return ModelRef(MODEL, version)

    def roll_out(self, model: ModelRef, until: set[Phase]) -> Rollout:
        request = RolloutRequest(
            endpoint=ENDPOINT,
            model=model,
            image=None,
            kind="model",
            actor="test",
            reason=f"deploy {model}",
            correlation_id=f"corr-{model.version}",
            idempotency_key=f"model:{model}",
        )
        rollout = start_rollout(request, inject(RolloutPorts, self.deps)(), supersede=False)
        return self.step(rollout, until)

    def step(self, rollout: Rollout, until: set[Phase]) -> Rollout:
        """Advance (the reconciler's ticks) until a phase in ``until``; the servers take
        real time to start."""
        deadline = time.monotonic() + 90
        while rollout.phase not in until:
            assert time.monotonic() < deadline, f"stuck in {rollout.phase}"
            rollout = advance(rollout, inject(RolloutPorts, self.deps)())
            if rollout.phase not in until:
                time.sleep(0.2)
        return rollout

    def users(self, count: int, *, bad: str = "") -> int:
        """``count`` requests through the endpoint, every third one with ``bad`` in it;
        returns how many failed."""
        failed = 0
        for i in range(count):
            text = f"{bad} call me later" if bad and i % 3 == 0 else "see you at seven"
            try:
                self.endpoints.invoke(ENDPOINT, {"data": [text]})
            except TransientError:
                failed += 1
        return failed


@pytest.fixture
def stage(tmp_path: Path) -> Iterator[Stage]:
    if not server.azmlinfsrv().is_file():
        missing_tool(f"azmlinfsrv not found at {server.azmlinfsrv()} (`make` builds it)")
    entry = tmp_path / "score.py"
    entry.write_text(ENTRY_SCRIPT)
    models = tmp_path / "models"
    models.mkdir()
    clock = FakeClock()
    db = PlatformDB(tmp_path / "ml" / "platform.db")
    endpoints = LocalEndpoints(
        ml_dir=tmp_path / "ml",
        db=db,
        entry_script=entry,
        model_path=lambda ref: models / ref.version,
        ready_timeout=60.0,
        request_timeout=10.0,
        wall_clock=lambda: clock.now().timestamp(),  # the router records on the services' clock
    )
    settings = Settings(
        canary_percent=50,
        canary_seconds=300,
        canary_min_requests=10,
        smoke_min_accuracy=0.8,
    )
    audit = RecordingAuditSink(clock)
    deps = Deps(
        settings=service_settings(settings),
        # A rollout's steps use the endpoint and deployment calls only: the local endpoints
        # alone, without the jobs and the MLflow registry of the whole local platform.
        platform=cast(MLPlatform, endpoints),
        blobs=InMemoryBlobStore(settings.storage_account_url),
        state=InMemoryStateStore(),
        secrets=NoSecrets(),
        audit=audit,
        clock=clock,
        smoke_set=SMOKE,
        registry=InMemoryContainerRegistry(clock),
        traffic=LocalLiveTraffic(db),
    )
    yield Stage(deps, endpoints, clock, audit, models)
    endpoints.close()


def test_a_canary_failing_users_requests_is_rolled_back_and_one_serving_them_is_promoted(
    stage: Stage,
) -> None:
    first = stage.roll_out(stage.model("1"), {Phase.COMPLETED})
    assert first.colour == "blue"

    # v2 passes its smoke test, then fails a third of what users send it.
    broken = stage.roll_out(stage.model("2", fail_on="boom"), {Phase.CANARY})
    assert stage.endpoints.get_endpoint(ENDPOINT).traffic == {"blue": 50, "green": 50}
    failed = stage.users(90, bad="boom")
    assert failed > 0
    stage.clock.advance(300)
    broken = stage.step(broken, {Phase.ROLLED_BACK, Phase.PROMOTED})

    assert broken.phase == Phase.ROLLED_BACK
    assert stage.endpoints.get_endpoint(ENDPOINT).traffic == {"blue": 100}
    note = broken.history[-1].note
    assert note.startswith("live traffic: canary 5xx rate")
    assert f"canary {failed}/" in note and "serving 0/" in note
    rolled_back = [e for e in stage.audit.entries if e.action == "rollout.rolled_back"]
    assert rolled_back[-1].details["live"]["canary"]["errors"] == failed

    # v3 serves the same users cleanly: promoted, with its live numbers on the record.
    stage.clock.advance(1)
    clean = stage.roll_out(stage.model("3"), {Phase.CANARY})
    assert stage.users(90, bad="boom") == 0
    stage.clock.advance(300)
    clean = stage.step(clean, {Phase.COMPLETED, Phase.ROLLED_BACK})

    assert clean.phase == Phase.COMPLETED
    assert stage.endpoints.get_endpoint(ENDPOINT).traffic == {clean.colour: 100}
    promoted = [e for e in stage.audit.entries if e.action == "rollout.promoted"][-1]
    assert "live traffic within margins" in promoted.reason
    assert promoted.details["live"]["canary"]["requests"] >= 10
