"""The manual API: reads, redeploy and rollback through the registered HTTP functions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared import bootstrap
from shared.domain.rollout import Phase, Rollout
from shared.domain.values import EndpointInfo, ModelRef
from shared.ports import TransientError
from shared.services.rollouts import ROLLOUT
from tests.conftest import World, model_registered
from tests.fakes.ml_platform import FakeMLPlatform
from tests.unit.test_api_helpers import (
    ALICE_OID,
    BOB,
    ENDPOINT,
    GOOD_TAGS,
    MODEL,
    call,
    operation,
    redeploy,
    rollback,
    serve,
    serving_model,
    settle,
)


def rollouts(world: World) -> list[Rollout]:
    return [Rollout.from_dict(s.value) for s in world.state.list(ROLLOUT)]


def in_canary(world: World, version: str) -> None:
    """``version`` registered and left in its canary: a rollout is active."""
    world.platform.add_model(MODEL, version, GOOD_TAGS)
    world.deliver("on_model_registered", model_registered(MODEL, version))
    world.reconcile()  # the new deployment is seen creating
    world.reconcile()  # provisioned: smoke test, then canary


# Reads ---------------------------------------------------------------------------------


def test_a_reader_lists_endpoints_with_deployments_traffic_and_models(world: World) -> None:
    serve(world, "1")
    reply = call("api_list_endpoints", principal=BOB)
    assert reply.status == 200
    [endpoint] = reply.body["endpoints"]
    assert endpoint["name"] == ENDPOINT
    assert endpoint["traffic"] == {"blue": 100}
    assert endpoint["deployments"] == [
        {
            "name": "blue",
            "model": {"name": MODEL, "version": "1"},
            "image": None,
            "state": "succeeded",
            "traffic": 100,
        }
    ]
    assert endpoint["active_rollout"] is None
    assert reply.headers["cache-control"] == "no-store"


def test_an_endpoint_shows_its_active_rollout(world: World) -> None:
    serve(world, "1")
    in_canary(world, "2")
    reply = call("api_get_endpoint", principal=BOB, route_params={"endpoint": ENDPOINT})
    assert reply.status == 200
    assert reply.body["traffic"] == {"blue": 90, "green": 10}
    active = reply.body["active_rollout"]
    assert active["phase"] == "canary"
    assert active["model"] == {"name": MODEL, "version": "2"}
    assert operation(active["operation_id"]).body["active"] is True


@pytest.mark.parametrize("name", ["other-endpoint", "x", "../secrets", "a" * 40])
def test_an_unknown_or_impossible_endpoint_is_404(world: World, name: str) -> None:
    serve(world, "1")
    reply = call("api_get_endpoint", principal=BOB, route_params={"endpoint": name})
    assert reply.status == 404
    assert reply.body["error"] == "not_found"
    assert "secrets" not in reply.body["message"]


@pytest.mark.parametrize("operation_id", ["ro-" + "0" * 20, "ro-XYZ", "../../etc"])
def test_an_unknown_operation_is_404(world: World, operation_id: str) -> None:
    reply = operation(operation_id)
    assert (reply.status, reply.body["error"]) == (404, "not_found")


# Redeploy ------------------------------------------------------------------------------


def test_a_deployer_redeploys_a_version_and_follows_the_operation(world: World) -> None:
    serve(world, "1", "2")
    reply = redeploy("1")
    assert reply.status == 202
    operation_id = reply.body["operation_id"]
    assert reply.body["status_url"] == f"/api/operations/{operation_id}"
    assert reply.headers["location"] == reply.body["status_url"]

    settle(world)
    state = operation(operation_id).body
    assert state["phase"] == "completed"
    assert state["outcome"] == "succeeded"
    assert state["kind"] == "manual"
    assert state["reason"] == "v2 misclassifies invoices"
    assert state["requested_by"] == {"actor": f"user:{ALICE_OID}", "name": "alice@contoso.com"}
    assert [step["phase"] for step in state["history"]] == [
        "deploying",
        "smoke_testing",
        "canary",
        "promoted",
        "completed",
    ]
    assert all(step["time"] for step in state["history"])
    assert serving_model(world) == ModelRef(MODEL, "1")


def test_every_record_a_redeploy_causes_names_the_principal_and_reason(world: World) -> None:
    serve(world, "1", "2")
    before = len(world.audit.entries)
    operation_id = redeploy("1", reason="rollback drill").body["operation_id"]
    settle(world)  # the reconciler's later steps count too

    caused = world.audit.entries[before:]
    assert [e.action for e in caused] == [
        "rollout.planned",
        "operator.redeploy",
        "rollout.deploying",
        "rollout.smoke_testing",
        "rollout.canary",
        "rollout.promoted",
        "rollout.completed",
    ]
    for entry in caused:
        assert entry.actor == f"user:{ALICE_OID}"
        assert entry.details["principal"] == {
            "object_id": ALICE_OID,
            "name": "alice@contoso.com",
            "roles": ["MLOps.Deployer"],
        }
        assert entry.details["request_reason"] == "rollback drill"
        assert operation_id in (entry.correlation_id, entry.details.get("rollout_id"))


def test_an_unknown_model_version_is_404_audited_and_starts_nothing(world: World) -> None:
    serve(world, "1")
    reply = redeploy("9")
    assert (reply.status, reply.body["error"]) == (404, "not_found")
    assert "spam-classifier:9" in reply.body["message"]
    [refusal] = [e for e in world.audit.entries if e.action == "operator.redeploy"]
    assert (refusal.outcome, refusal.actor) == ("rejected", f"user:{ALICE_OID}")
    assert refusal.details["request_reason"] == "v2 misclassifies invoices"
    assert len(rollouts(world)) == 1


def test_an_endpoint_that_does_not_exist_is_404(world: World) -> None:
    serve(world, "1")
    reply = redeploy("1", endpoint="nowhere-endpoint")
    assert (reply.status, reply.body["error"]) == (404, "not_found")
    assert len(rollouts(world)) == 1


@pytest.mark.parametrize(
    ("name", "tags", "words"),
    [
        (MODEL, {"gate": "failed", "gate_reason": "worse than champion"}, "gate=failed"),
        (MODEL, {}, "no gate decision"),
        ("credit-risk", GOOD_TAGS, "not the model this app serves"),
    ],
)
def test_a_version_that_may_not_be_deployed_is_422(
    world: World, name: str, tags: dict[str, str], words: str
) -> None:
    serve(world, "1")
    world.platform.add_model(name, "5", tags)
    reply = call(
        "api_redeploy",
        route_params={"endpoint": ENDPOINT},
        body={"model": name, "version": "5", "reason": "try it"},
    )
    assert (reply.status, reply.body["error"]) == (422, "not_deployable")
    assert words in reply.body["message"]
    assert len(rollouts(world)) == 1


def test_a_redeploy_while_a_rollout_is_active_is_409_unless_superseding(world: World) -> None:
    serve(world, "1")
    in_canary(world, "2")
    conflict = redeploy("1")
    assert (conflict.status, conflict.body["error"]) == (409, "rollout_active")
    assert "supersede" in conflict.body["message"]
    assert world.outcomes("operator.redeploy") == ["rejected"]

    accepted = redeploy("1", supersede=True)
    assert accepted.status == 202
    v2 = next(r for r in rollouts(world) if r.model.version == "2")
    assert v2.phase == Phase.SUPERSEDED
    [superseded] = [e for e in world.audit.entries if e.action == "rollout.superseded"]
    assert superseded.actor == f"user:{ALICE_OID}"  # who superseded it, not the v2 event
    assert superseded.details["requested_by"] != superseded.actor
    assert superseded.details["actor_reason"] == "v2 misclassifies invoices"
    settle(world)
    assert serving_model(world) == ModelRef(MODEL, "1")


# Rollback ------------------------------------------------------------------------------


def test_rollback_returns_to_the_previous_model(world: World) -> None:
    serve(world, "1", "2")
    reply = rollback()
    assert reply.status == 202
    settle(world)
    assert serving_model(world) == ModelRef(MODEL, "1")
    state = operation(reply.body["operation_id"]).body
    assert (state["kind"], state["outcome"]) == ("rollback", "succeeded")


def test_rollback_during_a_rollout_needs_supersede_and_then_aborts_it(world: World) -> None:
    serve(world, "1")
    in_canary(world, "2")
    assert rollback().status == 409

    reply = rollback(supersede=True)
    assert reply.status == 202
    state = operation(reply.body["operation_id"]).body
    assert (state["model"]["version"], state["outcome"]) == ("2", "rolled_back")
    assert world.platform.traffic[ENDPOINT] == {"blue": 100}
    [aborted] = [e for e in world.audit.entries if e.action == "rollout.rolled_back"]
    assert aborted.actor == f"user:{ALICE_OID}"
    assert aborted.details["principal"]["name"] == "alice@contoso.com"
    assert aborted.details["actor_reason"] == "complaints"


def test_rollback_with_nothing_to_return_to_is_409(world: World) -> None:
    serve(world, "1")
    reply = rollback()
    assert (reply.status, reply.body["error"]) == (409, "nothing_to_roll_back")
    assert world.outcomes("operator.rollback") == ["rejected"]


def test_rollback_of_an_unknown_endpoint_is_404(world: World) -> None:
    reply = call(
        "api_rollback",
        route_params={"endpoint": "nowhere-endpoint"},
        body={"reason": "r"},
    )
    assert reply.status == 404


# Failures that are not the caller's ------------------------------------------------------


class BrokenPlatform(FakeMLPlatform):
    """Fails the way a dependency does; the message stands for internal detail."""

    def __init__(self, smoke_set: Any, error: Exception) -> None:
        super().__init__(smoke_set)
        self.error = error

    def get_endpoint(self, name: str) -> EndpointInfo:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuntimeError("AccountKey=hunter2 at db.internal:5432"), 500, "internal"),
        (TransientError("throttled by db.internal"), 503, "unavailable"),
    ],
)
def test_internal_failures_answer_without_internal_details(
    world: World, error: Exception, status: int, code: str, caplog: pytest.LogCaptureFixture
) -> None:
    bootstrap.install(replace(world.deps, platform=BrokenPlatform(world.deps.smoke_set, error)))
    reply = call("api_get_endpoint", principal=BOB, route_params={"endpoint": ENDPOINT})
    assert (reply.status, reply.body["error"]) == (status, code)
    assert "db.internal" not in str(reply.body)
    assert "hunter2" not in str(reply.body)
    logged = [r for r in caplog.records if reply.headers["x-request-id"] in r.getMessage()]
    assert logged  # the detail is in the log, under the request id the caller was given


def test_the_request_id_ties_an_answer_to_its_audit_record(world: World) -> None:
    reply = call("api_list_endpoints", principal=None)
    [refusal] = world.audit.entries
    assert reply.headers["x-request-id"] == refusal.correlation_id
