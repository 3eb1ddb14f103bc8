"""Event Grid: one subscription per route of infra/event-routing.json, each delivered to an
Event Grid function that function_app.py really registers, with a retry policy and a
dead-letter destination written with the system topic's identity."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from shared.adapters.local import system_events as topics
from shared.adapters.local.event_grid import (
    DEFAULT_EXPERIMENT,
    EXPERIMENT_PLACEHOLDER,
    ROUTING_FILE,
    LocalEventGrid,
    load_routing,
)
from shared.devhost.functions_registry import registered
from shared.settings import Settings
from tests.infra.bicep import INFRA, MAIN, mentions, module_params, parsed, resources

EVENT_GRID = INFRA / "modules" / "event-grid.bicep"
SUBSCRIPTION = "Microsoft.EventGrid/systemTopics/eventSubscriptions"
ROUTING: dict[str, Any] = json.loads(ROUTING_FILE.read_text(encoding="utf-8"))


def subscription() -> dict[str, Any]:
    (declared,) = resources(SUBSCRIPTION)
    return declared.properties


def test_routing_names_exactly_the_event_grid_functions_function_app_registers() -> None:
    event_grid_functions = {
        name for name, fn in registered().items() if fn.get_trigger().type == "eventGridTrigger"
    }
    routes = ROUTING["subscriptions"]
    assert {route["function"] for route in routes} == event_grid_functions
    names = [route["name"] for route in routes]
    assert len(names) == len(set(names)), "one subscription per route name"
    # A function may take several routes (on_job_finished: one per run event type), never
    # one event twice: its routes' event types are disjoint.
    for function in event_grid_functions:
        types = [t for r in routes if r["function"] == function for t in r["includedEventTypes"]]
        assert len(types) == len(set(types)), function


def test_the_local_host_still_reads_the_routing_file() -> None:
    subs = load_routing()
    assert [s.name for s in subs] == [route["name"] for route in ROUTING["subscriptions"]]


def test_one_subscription_module_per_route_from_loadjsoncontent() -> None:
    body = parsed(EVENT_GRID)
    assert mentions(body["variables"]["routing"]["value"]).count("event-routing.json") == 1
    loop = body["modules"]["subscriptions"]["config"]["loop_type"]["detail"]
    assert loop["item_name"] == "route"
    assert "routing" in mentions(loop["array_name"]) and "subscriptions" in mentions(loop)
    params = module_params(EVENT_GRID, "subscriptions")
    # The route itself, with the app's experiment in place of its placeholder:
    # json(replace(string(route), '{experimentName}', experimentName)).
    as_text = {"function": {"type": "string", "parameters": {"value_to_convert": "route"}}}
    replaced = {
        "original_string": as_text,
        "old_string": EXPERIMENT_PLACEHOLDER,
        "new_string": "experimentName",
    }
    assert params["route"] == {
        "function": {
            "type": "json",
            "parameters": {"arg_1": {"function": {"type": "replace", "parameters": replaced}}},
        }
    }
    # Each route's topic key names one of the three system topics.
    assert {route["topic"] for route in ROUTING["subscriptions"]} == {
        "storage",
        "ml_workspace",
        "container_registry",
    }


def test_every_system_topic_has_a_managed_identity() -> None:
    (topics,) = resources("Microsoft.EventGrid/systemTopics")
    assert topics.config["identity"] == {"type": "SystemAssigned"}
    sources = parsed(EVENT_GRID)["variables"]["sources"]["value"]
    assert {key: value["topicType"] for key, value in sources.items()} == {
        "storage": "Microsoft.Storage.StorageAccounts",
        "ml_workspace": "Microsoft.MachineLearningServices.Workspaces",
        "container_registry": "Microsoft.ContainerRegistry.Registries",
    }


def test_delivery_goes_to_the_function_resource_by_name() -> None:
    destination = subscription()["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"] == "${functionAppId}/functions/${route.function}"


def test_every_subscription_has_an_explicit_retry_policy_and_a_dead_letter_destination() -> None:
    props = subscription()
    assert props["retryPolicy"] == {
        "maxDeliveryAttempts": "maxDeliveryAttempts",
        "eventTimeToLiveInMinutes": "eventTimeToLiveInMinutes",
    }
    dead_letter = props["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"] == {"type": "SystemAssigned"}
    destination = dead_letter["deadLetterDestination"]
    assert destination["endpointType"] == "StorageBlob"
    assert destination["properties"]["blobContainerName"] == "deadLetterContainerName"
    assert "deadLetterDestination" not in props, "no key-based dead-lettering"


def test_filters_come_from_the_route() -> None:
    event_filter = subscription()["filter"]
    assert event_filter["includedEventTypes"] == {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": "route", "operand_2": "includedEventTypes"},
        }
    }
    for key in ("subjectBeginsWith", "subjectEndsWith", "advancedFilters"):
        assert f'"{key}"' in mentions(event_filter[key]), key


def test_blob_created_only_for_completed_writes_in_the_training_container() -> None:
    (route,) = [r for r in ROUTING["subscriptions"] if r["function"] == "on_blob_created"]
    assert route["includedEventTypes"] == ["Microsoft.Storage.BlobCreated"]
    assert route["subjectBeginsWith"].startswith("/blobServices/default/containers/training-data/")
    assert route["advancedFilters"] == [
        {
            "operatorType": "StringIn",
            "key": "data.api",
            "values": ["PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"],
        }
    ]


def test_topics_can_write_dead_letters_before_subscriptions_exist() -> None:
    depends = mentions(parsed(EVENT_GRID)["modules"]["subscriptions"]["config"])
    assert "deadLetterWriters" in depends and "topics" in depends


# Learn, "Azure Container Registry as an Event Grid source": an ImagePushed subject is
# "<repository>:<tag>" ("aci-helloworld:v1"). Azure ML builds environment images into the
# workspace's registry as azureml/azureml_<hash> (Learn, troubleshooting online endpoints).
AZURE_ML_BUILD = "azureml/azureml_92a029f831ce58d2ed011c3c42d35acb"


def image_route() -> dict[str, Any]:
    routes: list[dict[str, Any]] = ROUTING["subscriptions"]
    (route,) = [r for r in routes if r["function"] == "on_image_pushed"]
    return route


# The one repository the pipelines push (infra/pipelines/build-serving-image.sh) and the app
# allows by default; a neighbour whose name merely starts the same way must not be routed.
SERVING = "mlops/sklearn-serving"
NEIGHBOUR = "mlops/sklearn-serving-canary"


def test_image_pushed_is_routed_only_from_the_allow_listed_repository() -> None:
    prefix = image_route()["subjectBeginsWith"]
    assert prefix == f"{SERVING}:", "the repository and the colon before the tag"
    default = parsed(MAIN)["parameters"]["allowedRepositories"]["default"]
    allowed = {*default.split(","), *Settings.model_fields["allowed_repositories"].default}
    assert {repo.strip() for repo in allowed} == {SERVING}, "another repository needs a route"
    assert f"{SERVING}:{'ab12' * 10}".startswith(prefix)  # a pipeline's tag: the commit
    for other in (f"{AZURE_ML_BUILD}:latest", f"{NEIGHBOUR}:1.0", "mlops/other:1.0", SERVING):
        assert not other.startswith(prefix), other
    assert (
        "allowedRepositories"
        in module_params(MAIN, "functionApp")["mlopsSettings"]["MLOPS_ALLOWED_REPOSITORIES"]
    )


def test_the_local_event_grid_routes_only_serving_pushes(tmp_path: Path) -> None:
    grid = LocalEventGrid(tmp_path / "eventgrid.db")
    registry, digest = "contosomlops.azurecr.io", "sha256:" + "ab" * 32
    acr = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
    for repository in (AZURE_ML_BUILD, NEIGHBOUR, "mlops/other"):
        grid.publish(topics.image_pushed(acr, registry, repository, digest=digest, tag="1.4.2"))
    assert grid.pending() == 0
    grid.publish(topics.image_pushed(acr, registry, SERVING, digest=digest, tag="1.4.2"))
    assert grid.pending() == 1


# Learn, "Azure Machine Learning as an Event Grid source": RunCompleted and RunStatusChanged,
# subject experiments/<experiment id>/runs/<run id>; data.experimentName, data.runStatus.
RUN_COMPLETED = "Microsoft.MachineLearningServices.RunCompleted"
RUN_STATUS_CHANGED = "Microsoft.MachineLearningServices.RunStatusChanged"


def run_routes() -> dict[str, dict[str, Any]]:
    routes: list[dict[str, Any]] = ROUTING["subscriptions"]
    return {
        t: r for r in routes if r["function"] == "on_job_finished" for t in r["includedEventTypes"]
    }


def test_run_events_reach_the_job_function_only_for_this_apps_experiment() -> None:
    routes = run_routes()
    assert set(routes) == {RUN_COMPLETED, RUN_STATUS_CHANGED}
    for route in routes.values():
        assert route["topic"] == "ml_workspace"
        assert route["subjectBeginsWith"] == "experiments/"
        assert {
            "operatorType": "StringIn",
            "key": "data.experimentName",
            "values": [EXPERIMENT_PLACEHOLDER],
        } in route["advancedFilters"]
    # The placeholder is the experiment the Azure backend submits jobs under: the model name,
    # one Bicep parameter for both.
    from shared.adapters.azure.ml_platform import AzureMLConfig

    identity = "/subscriptions/s/resourceGroups/g/providers/x/userAssignedIdentities/i"
    app = Settings(model_name="fraud-model", endpoint_identity_id=identity)
    assert AzureMLConfig.from_settings(app, INFRA.parent).experiment == "fraud-model"
    assert module_params(MAIN, "eventGrid")["experimentName"] == "modelName"
    assert module_params(MAIN, "functionApp")["mlopsSettings"]["MLOPS_MODEL_NAME"] == "modelName"
    default = parsed(MAIN)["parameters"]["modelName"]["default"]
    assert default == DEFAULT_EXPERIMENT == Settings.model_fields["model_name"].default
    placeholders = set(re.findall(r"\{(\w+)\}", ROUTING_FILE.read_text(encoding="utf-8")))
    assert placeholders == {"experimentName"}, "event-grid.bicep replaces only this one"


def test_run_status_changes_reach_the_function_only_when_the_run_ended_badly() -> None:
    filters = run_routes()[RUN_STATUS_CHANGED]["advancedFilters"]
    assert {
        "operatorType": "StringIn",
        "key": "data.runStatus",
        "values": ["Failed", "Canceled"],
    } in filters
    assert len(filters) == 2, "advanced filters are ANDed: experiment and status"
    assert all(f["key"] != "data.runStatus" for f in run_routes()[RUN_COMPLETED]["advancedFilters"])


def run_event(event_type: str, experiment: str, status: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"experimentId": "0fa9", "experimentName": experiment, "runId": "r1"}
    if status is not None:
        data["runStatus"] = status
    return {
        "id": f"{event_type}-{experiment}-{status}",
        "topic": "/subscriptions/s/resourceGroups/g/providers/"
        "Microsoft.MachineLearningServices/workspaces/w",
        "subject": "experiments/0fa9/runs/r1",
        "eventType": event_type,
        "eventTime": "2026-11-29T12:00:00Z",
        "data": data,
        "dataVersion": "",
        "metadataVersion": "1",
    }


@pytest.mark.parametrize(
    ("event_type", "experiment", "status", "routed"),
    [
        (RUN_COMPLETED, "fraud-model", None, True),
        (RUN_COMPLETED, "someone-elses", None, False),
        (RUN_STATUS_CHANGED, "fraud-model", "failed", True),  # the Learn sample's spelling
        (RUN_STATUS_CHANGED, "fraud-model", "Canceled", True),
        (RUN_STATUS_CHANGED, "FRAUD-MODEL", "Failed", True),  # string filters ignore case
        (RUN_STATUS_CHANGED, "fraud-model", "Running", False),
        (RUN_STATUS_CHANGED, "fraud-model", "Queued", False),
        (RUN_STATUS_CHANGED, "fraud-model", "Completed", False),  # RunCompleted says it
        (RUN_STATUS_CHANGED, "someone-elses", "Failed", False),
    ],
)
def test_the_local_event_grid_filters_run_events_as_the_subscriptions_do(
    tmp_path: Path, event_type: str, experiment: str, status: str | None, routed: bool
) -> None:
    grid = LocalEventGrid(tmp_path / "eventgrid.db", experiment="fraud-model")
    grid.publish(run_event(event_type, experiment, status))
    assert grid.pending() == (1 if routed else 0)
