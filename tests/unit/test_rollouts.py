"""ModelRegistered / ImagePushed → gate → blue/green rollout with smoke test, canary, rollback."""

from __future__ import annotations

import pytest

from shared.adapters.local import system_events as topics
from shared.domain.rollout import Phase, Rollout
from shared.domain.values import ModelRef
from shared.services.injection import inject
from shared.services.operations import Principal, redeploy, rollback
from shared.services.reconciler import JOB
from shared.services.rollout_requests import RolloutConflict, RolloutPorts
from shared.services.rollouts import ROLLOUT, advance, get_rollout
from tests.conftest import ACR_TOPIC, World, model_registered

ENDPOINT = "spam-endpoint"
MODEL = "spam-classifier"
DIGEST = "sha256:" + "ab" * 32
ALICE = Principal("0b7c-alice", "alice", ("MLOps.Deployer",))


def rollouts(world: World) -> list[Rollout]:
    return [Rollout.from_dict(s.value) for s in world.state.list(ROLLOUT)]


def register(world: World, version: str, **tags: str) -> None:
    world.platform.add_model(MODEL, version, {**_good(), **tags})
    world.deliver("on_model_registered", model_registered(MODEL, version, {"gate": "passed"}))


def settle(world: World) -> None:
    """Let time pass through the canary and run the timer until the rollout ends."""
    for _ in range(5):
        world.reconcile()
        world.clock.advance(301)


def redeploy_v1(world: World, key: str, *, reason: str, supersede: bool) -> Rollout:
    """Alice asks for v1 back, as the HTTP API would on her behalf."""
    return inject(redeploy, world.deps)(
        ENDPOINT,
        ModelRef(MODEL, "1"),
        principal=ALICE,
        reason=reason,
        operation_key=key,
        supersede=supersede,
    )


def _good() -> dict[str, str]:
    return {"gate": "passed", "gate_reason": "first model", "accuracy": "0.99", "f1": "0.96"}


def test_the_first_model_goes_to_blue_at_100_percent(world: World) -> None:
    register(world, "1")
    settle(world)

    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    [rollout] = rollouts(world)
    assert [t.phase for t in rollout.history] == [
        Phase.DEPLOYING,
        Phase.SMOKE_TESTING,
        Phase.PROMOTED,
        Phase.COMPLETED,
    ]
    assert world.outcomes("rollout.completed") == ["succeeded"]


def test_a_later_model_goes_green_through_smoke_canary_and_promotion(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    world.reconcile()
    world.reconcile()
    assert world.platform.traffic[ENDPOINT] == {"blue": 90, "green": 10}  # canary, waiting

    settle(world)
    assert world.platform.traffic[ENDPOINT] == {"green": 100}
    assert world.platform.deleted == ["blue"]
    assert world.platform.get_deployment(ENDPOINT, "green").model == ModelRef(MODEL, "2")
    assert [r.phase for r in rollouts(world)] == [Phase.COMPLETED, Phase.COMPLETED]


def test_a_model_that_fails_its_smoke_test_is_rolled_back(world: World) -> None:
    register(world, "1")
    settle(world)
    world.platform.behaviour[ModelRef(MODEL, "2")] = "wrong"
    register(world, "2")
    settle(world)

    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    assert "green" in world.platform.deleted
    bad = next(r for r in rollouts(world) if r.model.version == "2")
    assert bad.phase == Phase.ROLLED_BACK
    assert "smoke test" in bad.history[-1].note
    assert world.outcomes("rollout.rolled_back") == ["rolled_back"]


def test_a_deployment_that_fails_to_provision_is_rolled_back(world: World) -> None:
    register(world, "1")
    settle(world)
    world.platform.provisioning = "failed"
    register(world, "2")
    settle(world)
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    assert rollouts(world)[-1].phase == Phase.ROLLED_BACK


def test_a_deployment_that_never_becomes_ready_times_out_and_rolls_back(world: World) -> None:
    register(world, "1")
    settle(world)
    world.platform.provisioning = "creating"
    register(world, "2")
    for _ in range(8):
        world.reconcile()
        world.clock.advance(301)  # 2,400 s > the 1,800 s deploy timeout
    assert rollouts(world)[-1].phase == Phase.ROLLED_BACK
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}


def test_a_canary_that_goes_down_is_rolled_back(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    world.reconcile()
    world.platform.behaviour[ModelRef(MODEL, "2")] = "down"
    settle(world)
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    assert rollouts(world)[-1].phase == Phase.ROLLED_BACK


@pytest.mark.parametrize(
    ("tags", "reason"),
    [
        ({}, "no gate decision"),
        ({"gate": "failed", "gate_reason": "f1 0.80 < champion 0.95"}, "gate=failed"),
        ({"gate": "passed", "accuracy": "0.90", "f1": "0.96"}, "accuracy"),
        ({"gate": "passed", "accuracy": "0.99", "f1": "0.50"}, "f1"),
        ({"gate": "passed", "accuracy": "NaN", "f1": "0.96"}, "accuracy"),
    ],
)
def test_models_that_do_not_pass_the_gate_are_rejected(
    world: World, tags: dict[str, str], reason: str
) -> None:
    world.platform.add_model(MODEL, "1", tags)
    world.deliver("on_model_registered", model_registered(MODEL, "1", {"gate": "passed"}))
    [entry] = [e for e in world.audit.entries if e.action == "model.registered"]
    assert entry.outcome == "rejected"
    assert reason in entry.reason
    assert rollouts(world) == []
    assert world.platform.deployments == {}


def test_event_tags_are_not_trusted_the_registry_is(world: World) -> None:
    world.platform.add_model(MODEL, "1", {"gate": "failed", "gate_reason": "worse"})
    world.deliver("on_model_registered", model_registered(MODEL, "1", _good()))
    assert world.outcomes("model.registered") == ["rejected"]


def test_another_model_name_is_rejected(world: World) -> None:
    world.platform.add_model("credit-risk", "1")
    world.deliver("on_model_registered", model_registered("credit-risk", "1"))
    assert world.outcomes("model.registered") == ["rejected"]


def test_ml_event_fields_are_read_case_insensitively(world: World) -> None:
    world.platform.add_model(MODEL, "1", _good())
    event = model_registered(MODEL, "1")
    event["data"] = {"ModelName": MODEL, "ModelVersion": 1, "ModelTags": {}, "ModelProperties": {}}
    world.deliver("on_model_registered", event)
    assert world.outcomes("model.registered") == ["accepted"]


def test_a_model_not_yet_visible_in_the_registry_raises_for_a_retry(world: World) -> None:
    from shared.ports import TransientError

    with pytest.raises(TransientError):
        world.deliver("on_model_registered", model_registered(MODEL, "7"))
    assert rollouts(world) == []


def test_a_redelivered_model_event_starts_one_rollout(world: World) -> None:
    world.platform.add_model(MODEL, "1", _good())
    event = model_registered(MODEL, "1")
    for _ in range(5):
        world.deliver("on_model_registered", event)
    world.deliver("on_model_registered", {**event, "id": "second-delivery"})
    assert len(rollouts(world)) == 1
    assert world.outcomes("model.registered") == ["accepted"] + ["duplicate"] * 5


def test_a_newer_model_supersedes_an_active_rollout(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    world.reconcile()  # v2 in canary
    register(world, "3")
    settle(world)
    phases = {r.model.version: r.phase for r in rollouts(world)}
    assert phases == {"1": Phase.COMPLETED, "2": Phase.SUPERSEDED, "3": Phase.COMPLETED}
    assert (
        world.platform.get_deployment(
            ENDPOINT, world.platform.get_endpoint(ENDPOINT).serving or ""
        ).model.version
        == "3"
    )


def test_an_allow_listed_image_by_digest_rolls_the_serving_model_forward(world: World) -> None:
    register(world, "1")
    settle(world)
    world.registry.push("contosomlops.azurecr.io", "mlops/sklearn-serving", digest=DIGEST)
    world.deliver(
        "on_image_pushed",
        topics.image_pushed(
            ACR_TOPIC, "contosomlops.azurecr.io", "mlops/sklearn-serving", digest=DIGEST, tag="2.1"
        ),
    )
    settle(world)
    [serving] = world.platform.get_endpoint(ENDPOINT).deployments
    assert serving.image == f"contosomlops.azurecr.io/mlops/sklearn-serving@{DIGEST}"
    assert serving.model == ModelRef(MODEL, "1")
    assert world.platform.traffic[ENDPOINT] == {serving.name: 100}


@pytest.mark.parametrize(
    ("registry", "repository", "digest", "reason"),
    [
        ("evil.example.io", "mlops/sklearn-serving", DIGEST, "registry"),
        ("contosomlops.azurecr.io", "team/other", DIGEST, "repository"),
        ("contosomlops.azurecr.io", "mlops/sklearn-serving", "latest", "digest"),
    ],
)
def test_images_off_the_allow_list_or_by_tag_are_rejected(
    world: World, registry: str, repository: str, digest: str, reason: str
) -> None:
    register(world, "1")
    settle(world)
    world.deliver(
        "on_image_pushed", topics.image_pushed(ACR_TOPIC, registry, repository, digest=digest)
    )
    [entry] = [e for e in world.audit.entries if e.action == "image.pushed"]
    assert entry.outcome == "rejected"
    assert reason in entry.reason.lower()
    assert len(rollouts(world)) == 1


def test_an_image_before_any_model_is_rejected(world: World) -> None:
    world.registry.push("contosomlops.azurecr.io", "mlops/sklearn-serving", digest=DIGEST)
    world.deliver(
        "on_image_pushed",
        topics.image_pushed(
            ACR_TOPIC, "contosomlops.azurecr.io", "mlops/sklearn-serving", digest=DIGEST
        ),
    )
    assert world.outcomes("image.pushed") == ["rejected"]


def test_a_failed_training_job_is_recorded_and_leaves_the_serving_model_alone(world: World) -> None:
    register(world, "1")
    settle(world)
    world.deliver("on_blob_created", world.upload("spam/part-1.csv"))
    world.clock.advance(61)
    world.reconcile()
    [job] = world.platform.submitted
    assert job.champion == ModelRef(MODEL, "1")
    world.platform.finish_job(job.name, None, failed=True)
    world.reconcile()

    assert world.outcomes("training.failed") == ["failed"]
    assert world.state.get(JOB, job.name).value["status"] == "failed"  # type: ignore[union-attr]
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    assert len(rollouts(world)) == 1


def test_an_operator_redeploys_a_known_version_and_is_the_recorded_actor(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    settle(world)
    rollout = redeploy_v1(world, "op-1", reason="v2 drifts", supersede=False)
    settle(world)
    assert world.platform.get_deployment(ENDPOINT, "blue").model == ModelRef(MODEL, "1")
    assert any(e.actor == ALICE.actor and e.reason == "v2 drifts" for e in world.audit.entries)
    again = redeploy_v1(world, "op-1", reason="v2 drifts", supersede=False)
    assert again.id == rollout.id  # the same operation key finds the same rollout


def test_a_redeploy_while_a_rollout_is_active_conflicts_unless_superseding(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    world.reconcile()
    with pytest.raises(RolloutConflict):
        redeploy_v1(world, "op-2", reason="r", supersede=False)
    redeploy_v1(world, "op-3", reason="r", supersede=True)
    assert any(r.phase == Phase.SUPERSEDED for r in rollouts(world))


def test_rollback_returns_to_the_previous_model(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    settle(world)
    inject(rollback, world.deps)(
        ENDPOINT, principal=ALICE, reason="complaints", operation_key="op-9"
    )
    settle(world)
    serving = world.platform.get_endpoint(ENDPOINT).serving
    assert world.platform.get_deployment(ENDPOINT, serving or "").model == ModelRef(MODEL, "1")


def test_rollback_during_a_rollout_aborts_it(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    world.reconcile()
    inject(rollback, world.deps)(ENDPOINT, principal=ALICE, reason="stop", operation_key="op-4")
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    v2 = next(r for r in rollouts(world) if r.model.version == "2")
    assert v2.phase == Phase.ROLLED_BACK
    assert "rolled back by alice: stop" in v2.history[-1].note
    assert "green" in world.platform.deleted


def test_a_stale_copy_of_a_rollout_cannot_step_it_back(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    [stale] = [r for r in rollouts(world) if r.model.version == "2"]
    world.reconcile()
    world.reconcile()  # the timer moved it on to the canary meanwhile
    current = get_rollout(stale.id, state=world.deps.state)
    assert current is not None and current.phase == Phase.CANARY
    records = len(world.audit.entries)

    late = advance(stale, inject(RolloutPorts, world.deps)())
    assert late == stale  # the handler's late step is a no-op
    after = get_rollout(stale.id, state=world.deps.state)
    assert after is not None and after.phase == Phase.CANARY and after.history == current.history
    assert len(world.audit.entries) == records  # and writes no duplicate record


def test_every_step_of_an_operation_carries_its_operation_id(world: World) -> None:
    register(world, "1")
    settle(world)
    register(world, "2")
    settle(world)
    operation = redeploy_v1(world, "op-7", reason="drill", supersede=False)
    settle(world)
    story = [e for e in world.audit.entries if e.correlation_id == operation.id]
    actions = [e.action for e in story]
    assert actions[:2] == ["rollout.planned", "operator.redeploy"]
    assert actions[-1] == "rollout.completed"
    assert all(e.actor == ALICE.actor for e in story)


def test_an_endpoint_still_being_created_defers_the_first_step_to_the_timer(
    world: World,
) -> None:
    world.platform.busy.add(ENDPOINT)
    register(world, "1")  # delivered without an error: the rollout is persisted, planned
    [rollout] = rollouts(world)
    assert rollout.phase == Phase.PLANNED
    world.reconcile()  # still busy: the reconciler keeps it for the next tick
    world.platform.busy.clear()
    settle(world)
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
