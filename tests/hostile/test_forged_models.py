"""The deploy gate trusts no tag (issue 12, section 2).

A version is deployed only on evidence a registry writer cannot forge alone: its files are
the model of a training run, that run's job is one this app submitted and it completed, the
job's own run registered exactly this version and says gate=passed, and the metrics read from
that run meet the floors. Every forged or doubtful version is refused with the reason and
audited (``model.registered``, outcome ``rejected``), through the real function entry point
(``on_model_registered``) and the operator API, on the tests' fakes; the same rules on the
real local platform (MLflow registry, a real training job) are in
``test_forged_models_local.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import bootstrap
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.domain.values import JobInfo, ModelVersion, TrainingRun
from shared.ops.views.story import explain
from shared.ports import TransientError
from shared.services.deps import Deps
from shared.services.reconciler import JOB
from shared.services.rollouts import ROLLOUT
from shared.settings import Settings, service_settings
from tests.conftest import ACCOUNT, World, model_registered
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)
from tests.fakes.ml_platform import GOOD_TAGS, FakeMLPlatform
from tests.unit.test_api_helpers import call

MODEL = "spam-classifier"
OURS = f"train-{MODEL}-v1"  # the job add_model trains version 1 with
PERFECT = {"gate": "passed", "gate_reason": "beats champion", "accuracy": "1.0000", "f1": "1.0"}
# Tag sets a registry writer might put on a version registered by hand.
FORGED_TAGS: dict[str, dict[str, str]] = {
    "no-tags": {},
    "gate-passed": {"gate": "passed"},
    "perfect-metrics": PERFECT,
    "golden-too": {**PERFECT, "golden_accuracy": "1.0", "golden_f1": "1.0"},
    "names-our-job": {**PERFECT, "job_name": OURS},
    "names-an-unknown-job": {**PERFECT, "job_name": "train-never-submitted"},
    "registered-version": {**PERFECT, "job_name": OURS, "registered_version": "7"},
    "lineage-looking": {**PERFECT, "run_id": f"run-{OURS}", "mlflow.source.name": "train.py"},
    "upper-case-gate": {**PERFECT, "GATE": "PASSED", "gate": "Passed"},
    "padded-gate": {**PERFECT, "gate": "passed "},
}


def rejected(world: World) -> list[str]:
    return [e.reason for e in world.audit.entries if e.action == "model.registered"]


def nothing_deployed(world: World) -> bool:
    return world.state.list(ROLLOUT) == [] and world.platform.deployments == {}


def deliver(world: World, version: str, tags: dict[str, str] | None = None) -> None:
    world.deliver("on_model_registered", model_registered(MODEL, version, tags or dict(PERFECT)))


def assert_refused(world: World, words: str) -> None:
    [entry] = [e for e in world.audit.entries if e.action == "model.registered"]
    assert entry.outcome == "rejected", entry
    assert words in entry.reason, entry.reason
    assert nothing_deployed(world)


# Registered by hand -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", FORGED_TAGS)
def test_a_version_registered_by_hand_is_refused_whatever_its_tags_say(
    world: World, kind: str
) -> None:
    world.platform.add_model(MODEL, "1")  # our own job exists, completed and passed
    world.state.put(JOB, "train-never-submitted", {"status": "completed"}, etag=None)
    world.platform.register_by_hand(MODEL, "2", FORGED_TAGS[kind])
    deliver(world, "2", FORGED_TAGS[kind])
    assert_refused(world, "not produced by a training job")
    [entry] = [e for e in world.audit.entries if e.action == "model.registered"]
    assert entry.details["tags"] == (FORGED_TAGS[kind] or PERFECT)  # stored as received


@contextmanager
def fresh_world() -> Iterator[World]:
    """The conftest ``world``, built per example (hypothesis runs many in one test)."""
    clock = FakeClock()
    smoke = load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")
    platform, state = FakeMLPlatform(smoke), InMemoryStateStore()
    platform.app_state = state
    audit, blobs = RecordingAuditSink(clock), InMemoryBlobStore(ACCOUNT)
    deps = Deps(
        service_settings(Settings(storage_account_url=ACCOUNT)),
        platform,
        blobs,
        state,
        NoSecrets(),
        audit,
        clock,
        smoke,
        InMemoryContainerRegistry(clock),
    )
    bootstrap.install(deps)
    try:
        yield World(deps, platform, state, audit, blobs, clock)
    finally:
        bootstrap.install(None)


tag_text = st.text(max_size=40)
forged_tags = st.dictionaries(
    st.one_of(st.sampled_from([*PERFECT, "job_name", "golden_f1", "registered_version"]), tag_text),
    st.one_of(st.sampled_from(["passed", "1.0", "0.99", OURS, "1", "nan"]), tag_text),
    max_size=8,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(forged_tags, st.sampled_from(["", f"run-{OURS}", "run-x"]), st.sampled_from(["", OURS, "x"]))
def test_no_tags_and_no_claimed_lineage_deploy_a_version_our_job_did_not_register(
    tags: dict[str, str], run_id: str, job: str
) -> None:
    with fresh_world() as world:
        world.platform.add_model(MODEL, "1")
        world.platform.register_by_hand(MODEL, "2", tags, run_id=run_id, job=job)
        deliver(world, "2", tags)
        assert [e.outcome for e in world.audit.entries if e.action == "model.registered"] == [
            "rejected"
        ]
        assert nothing_deployed(world)


# The job behind the version -------------------------------------------------------------------


def test_a_version_whose_job_this_app_never_submitted_is_refused(world: World) -> None:
    world.platform.add_model(MODEL, "1", PERFECT, job="train-someone-else", submitted=False)
    deliver(world, "1")
    assert_refused(world, "'train-someone-else' was not submitted by this app")


@pytest.mark.parametrize(("failed", "words"), [(True, "failed: data invalid"), (False, "canceled")])
def test_a_version_from_a_job_we_submitted_that_did_not_complete_is_refused(
    world: World, failed: bool, words: str
) -> None:
    world.platform.add_model(MODEL, "1")
    if failed:
        world.platform.finish_job(OURS, None, failed=True)
    else:
        world.platform.jobs[OURS] = JobInfo(OURS, "canceled")
    deliver(world, "1")
    assert_refused(world, words)


def test_a_version_whose_job_is_gone_from_the_workspace_is_refused(world: World) -> None:
    world.platform.add_model(MODEL, "1")
    world.platform.forget_job(OURS)
    deliver(world, "1")
    assert_refused(world, "does not exist in the workspace")


def test_a_version_registered_while_its_job_still_runs_waits_for_the_job(world: World) -> None:
    """Azure ML sends ModelRegistered as train.py registers, before the job ends."""
    world.platform.add_model(MODEL, "1")
    world.platform.jobs[OURS] = JobInfo(OURS, "running")
    event = model_registered(MODEL, "1")
    with pytest.raises(TransientError, match="still running"):
        world.deliver("on_model_registered", event)
    assert rejected(world) == [] and nothing_deployed(world)  # not remembered: redelivered
    world.platform.finish_job(OURS, None)
    world.deliver("on_model_registered", event)
    assert [e.outcome for e in world.audit.entries if e.action == "model.registered"] == [
        "accepted"
    ]


# The run behind the version -------------------------------------------------------------------


def test_a_version_whose_files_come_from_another_run_than_its_job_s_is_refused(
    world: World,
) -> None:
    world.platform.add_model(MODEL, "1")
    world.platform.register_by_hand(MODEL, "2", PERFECT, run_id="run-elsewhere", job=OURS)
    deliver(world, "2")
    assert_refused(world, f"not job {OURS}'s model")


def test_a_second_version_of_our_job_s_files_is_refused(world: World) -> None:
    """Registering our run's model again (an old, once-good model) is not a new decision."""
    world.platform.add_model(MODEL, "1")
    world.platform.register_by_hand(MODEL, "5", PERFECT, run_id=f"run-{OURS}", job=OURS)
    deliver(world, "5")
    assert_refused(world, f"job {OURS} registered version 1, not 5")


@pytest.mark.parametrize(
    ("claimed", "recorded", "words"),
    [
        ({"accuracy": "0.9990"}, {"accuracy": "0.9700"}, "tag accuracy=0.9990 disagrees"),
        ({"f1": "0.9900"}, {"f1": "0.9000"}, "tag f1=0.9900 disagrees"),
        ({"precision": "1.0"}, {"precision": "0.95"}, "tag precision=1.0000 disagrees"),
        ({"golden_accuracy": "1.0"}, {"golden_accuracy": "0.90"}, "tag golden_accuracy"),
        ({"golden_f1": "nan"}, {"golden_f1": "0.90"}, "tag golden_f1=nan disagrees"),
        ({"recall": "high"}, {"recall": "0.95"}, "tag recall is not a number"),
        ({"accuracy": "0.99"}, {"accuracy": "0.90"}, "accuracy 0.9000 is below the floor"),
        ({"f1": "0.96"}, {"f1": "0.50"}, "f1 0.5000 is below the floor"),
        ({"gate": "passed"}, {"gate": "failed", "gate_reason": "worse"}, "gate=failed: worse"),
    ],
)
def test_tags_that_claim_other_metrics_than_the_run_recorded_are_refused(
    world: World, claimed: dict[str, str], recorded: dict[str, str], words: str
) -> None:
    world.platform.add_model(MODEL, "1", {**GOOD_TAGS, **claimed}, run={**GOOD_TAGS, **recorded})
    deliver(world, "1")
    assert_refused(world, words)


def test_our_version_whose_run_says_gate_failed_is_refused_with_the_run_s_reason(
    world: World,
) -> None:
    """The demo's scrambled labels: the job's golden set said no; the tags were edited."""
    reason = "golden set: golden accuracy 0.0625 < floor 0.85"
    world.platform.add_model(
        MODEL, "1", {"gate": "failed"}, run={**GOOD_TAGS, "gate": "failed", "gate_reason": reason}
    )
    world.platform.models[(MODEL, "1")] = ModelVersion(
        MODEL, "1", PERFECT, run_id=f"run-{OURS}", job_name=OURS
    )  # and then the version's tags were edited to say passed
    deliver(world, "1")
    assert_refused(world, f"gate=failed: {reason}")


@pytest.mark.parametrize(
    ("recorded", "words"),
    [
        ({"golden_accuracy": "0.40"}, "golden_accuracy 0.4000 is below the floor 0.8500"),
        ({"golden_f1": "0.10"}, "golden_f1 0.1000 is below the floor 0.8500"),
        ({"golden_f1": "nan"}, "golden_f1 nan is below the floor"),
    ],
)
def test_the_golden_set_metrics_on_the_run_must_meet_their_floors(
    world: World, recorded: dict[str, str], words: str
) -> None:
    world.platform.add_model(MODEL, "1", GOOD_TAGS, run={**GOOD_TAGS, **recorded})
    deliver(world, "1")
    assert_refused(world, words)


def test_a_run_without_golden_set_metrics_is_refused(world: World) -> None:
    world.platform.add_model(MODEL, "1")
    run = world.platform.runs[OURS]
    metrics = {k: v for k, v in run.metrics.items() if not k.startswith("golden_")}
    world.platform.runs[OURS] = TrainingRun(OURS, run.run_id, metrics, run.tags)
    deliver(world, "1")
    assert_refused(world, "has no golden_accuracy metric")


# Refusals are final, audited once, and the operator API applies the same rules --------------


def test_a_refused_version_stays_refused_on_redelivery(world: World) -> None:
    world.platform.register_by_hand(MODEL, "2", PERFECT)
    event = model_registered(MODEL, "2", PERFECT)
    for _ in range(3):
        world.deliver("on_model_registered", event)
    outcomes = [e.outcome for e in world.audit.entries if e.action == "model.registered"]
    assert outcomes == ["rejected", "duplicate", "duplicate"]
    assert nothing_deployed(world)


def test_an_operator_cannot_redeploy_a_forged_version_either(world: World) -> None:
    world.platform.register_by_hand(MODEL, "9", PERFECT)
    world.platform.ensure_endpoint("spam-endpoint")
    reply = call(
        "api_redeploy",
        route_params={"endpoint": "spam-endpoint"},
        body={"model": MODEL, "version": "9", "reason": "trust me"},
    )
    assert (reply.status, reply.body["error"]) == (422, "not_deployable")
    assert "not produced by a training job" in reply.body["message"]
    [entry] = [e for e in world.audit.entries if e.action == "operator.redeploy"]
    assert entry.outcome == "rejected" and "not produced by a training job" in entry.reason
    assert nothing_deployed(world)


def test_a_version_our_job_registered_and_passed_is_deployed_with_its_evidence(
    world: World,
) -> None:
    world.platform.add_model(MODEL, "1", {"gate": "passed"}, run=GOOD_TAGS)  # tags are partial
    deliver(world, "1")
    [entry] = [e for e in world.audit.entries if e.action == "model.registered"]
    assert entry.outcome == "accepted" and f"job {OURS}" in entry.reason
    evidence = entry.details["evidence"]
    assert evidence["job_name"] == OURS and evidence["run_id"] == f"run-{OURS}"
    assert evidence["metrics"]["golden_accuracy"] == pytest.approx(0.98)
    assert world.state.list(ROLLOUT) != []


def test_the_story_of_a_refused_version_ends_in_its_refusal(world: World) -> None:
    world.platform.register_by_hand(MODEL, "2", PERFECT)
    deliver(world, "2")
    story = explain(world.audit.records, f"{MODEL}@2")
    assert story.outcome.startswith(f"not deployed: {MODEL}@2 rejected: not produced by")
