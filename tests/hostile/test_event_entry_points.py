"""Events handed straight to the app's Event Grid functions (issue 12, section 3), as the
Python worker hands them: the JSON through azure.functions' own trigger converter, so a
CloudEvent arrives as ``func.CloudEvent``. On the tests' recording fakes.

A model version that is not a registry version number is rejected with an audit record and
the function returns (Event Grid is not asked to retry it); one digest pushed under several
spellings of the registry host rolls out once.
"""

from __future__ import annotations

from typing import Any

import azure.functions as func
import pytest

from shared.adapters.local import system_events as topics
from shared.devhost import delivery
from shared.services.rollouts import ROLLOUT
from tests.conftest import ACR_TOPIC, World, model_registered, to_cloud

MODEL = "spam-classifier"
DIGEST = "sha256:" + "ab" * 32
GOOD = {"gate": "passed", "gate_reason": "first model", "accuracy": "0.99", "f1": "0.96"}


def test_the_function_gets_what_the_worker_gives_it(world: World) -> None:
    cloud = to_cloud(world.upload("spam/a.csv"))
    assert isinstance(delivery.to_trigger_event(cloud), func.CloudEvent)
    grid = world.upload("spam/b.csv")
    assert isinstance(delivery.to_trigger_event(grid), func.EventGridEvent)
    world.deliver("on_blob_created", cloud)
    world.deliver("on_blob_created", grid)
    assert world.outcomes("data.received") == ["accepted", "accepted"]


@pytest.mark.parametrize("specversion", ["0.3", "1.1", "", None, 1.0])
def test_a_cloud_event_of_another_specversion_is_rejected_at_the_function(
    world: World, specversion: Any
) -> None:
    event = {**to_cloud(world.upload("spam/a.csv")), "specversion": specversion}
    world.deliver("on_blob_created", event)  # returns: acknowledged, not retried
    [entry] = [e for e in world.audit.entries if e.correlation_id == event["id"]]
    assert (entry.outcome, entry.details["field"]) == ("rejected", "specversion")


def test_data_base64_reaches_the_parser_and_is_refused(world: World) -> None:
    event = {**to_cloud(world.upload("spam/a.csv")), "data_base64": "e30="}
    world.deliver("on_blob_created", event)
    [entry] = [e for e in world.audit.entries if e.correlation_id == event["id"]]
    assert (entry.outcome, entry.details["field"]) == ("rejected", "data")


NOT_VERSIONS = [
    "latest",  # Azure ML's label for the newest version: never a version itself
    "LATEST",
    "zz",
    "v2",
    "0",
    "01",
    "007",
    "1.0",
    "1e3",
    "+1",
    "-1",
    " 1",
    "1 ",
    "1_0",
    "\u0661",  # ARABIC-INDIC DIGIT ONE: str.isdigit() says yes
    "\uff11",  # FULLWIDTH DIGIT ONE
    "1/2",
    "1\n",
    "99999999999",  # past any version a registry will reach
]


@pytest.mark.parametrize("version", NOT_VERSIONS)
@pytest.mark.parametrize("schema", ["event-grid", "cloud-events"])
def test_a_version_that_is_not_a_version_number_is_rejected_and_not_retried(
    world: World, version: str, schema: str
) -> None:
    world.platform.add_model(MODEL, version, GOOD)  # even if a registry had such a version
    event = model_registered(MODEL, version, {"gate": "passed"})
    event = to_cloud(event) if schema == "cloud-events" else event
    world.deliver("on_model_registered", event)  # returns normally: no retry
    [entry] = [e for e in world.audit.entries if e.correlation_id == event["id"]]
    assert entry.outcome == "rejected"
    assert "version" in entry.reason
    assert world.state.list(ROLLOUT) == []
    world.deliver("on_model_registered", event)  # redelivered: remembered, still no rollout
    assert world.state.list(ROLLOUT) == []


@pytest.mark.parametrize("version", ["1", "7", "42", "9999999999", 7])
def test_a_version_number_is_taken(world: World, version: Any) -> None:
    world.platform.add_model(MODEL, str(version), GOOD)
    event = model_registered(MODEL, "0")
    event["data"]["modelVersion"] = version  # the wire may carry it as a number
    world.deliver("on_model_registered", event)
    assert world.outcomes("model.registered") == ["accepted"]


def serve_version_1(world: World) -> None:
    world.registry.push("contosomlops.azurecr.io", "mlops/sklearn-serving", digest=DIGEST)
    world.platform.add_model(MODEL, "1", GOOD)
    world.deliver("on_model_registered", model_registered(MODEL, "1", {"gate": "passed"}))
    for _ in range(5):
        world.reconcile()
        world.clock.advance(301)


def pushed(registry: str, digest: str = DIGEST, tag: str = "2.1") -> dict[str, Any]:
    return topics.image_pushed(ACR_TOPIC, registry, "mlops/sklearn-serving", digest=digest, tag=tag)


def test_one_digest_under_several_registry_spellings_rolls_out_once(world: World) -> None:
    serve_version_1(world)
    before = len(world.state.list(ROLLOUT))
    for registry in [
        "contosomlops.azurecr.io",
        "ContosoMLOps.azurecr.io",
        "CONTOSOMLOPS.AZURECR.IO",
        "contosomlops.AzureCR.io",
    ]:
        world.deliver("on_image_pushed", pushed(registry, tag=registry[:4]))
    assert world.outcomes("image.pushed") == ["accepted", "duplicate", "duplicate", "duplicate"]
    assert len(world.state.list(ROLLOUT)) == before + 1
    [image] = {e.target for e in world.audit.entries if e.action == "image.pushed"}
    assert image == f"contosomlops.azurecr.io/mlops/sklearn-serving@{DIGEST}"


@pytest.mark.parametrize(
    "digest",
    [
        "sha256:" + "AB" * 32,  # OCI: "[A-F] MUST NOT be used"; not another spelling
        "SHA256:" + "ab" * 32,
        "sha256:" + "Ab" * 32,
        " sha256:" + "ab" * 32,
    ],
)
def test_a_digest_in_another_case_is_refused_and_does_not_block_the_real_one(
    world: World, digest: str
) -> None:
    serve_version_1(world)
    world.deliver("on_image_pushed", pushed("contosomlops.azurecr.io", digest))
    world.deliver("on_image_pushed", pushed("contosomlops.azurecr.io"))
    assert world.outcomes("image.pushed") == ["rejected", "accepted"]
