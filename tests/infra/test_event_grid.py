"""Event Grid: one subscription per route of infra/event-routing.json, each delivered to an
Event Grid function that function_app.py really registers, with a retry policy and a
dead-letter destination written with the system topic's identity."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.adapters.local import system_events as topics
from shared.adapters.local.event_grid import ROUTING_FILE, LocalEventGrid, load_routing
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
    routed = [route["function"] for route in ROUTING["subscriptions"]]
    assert sorted(routed) == sorted(event_grid_functions)
    assert len(routed) == len(set(routed)), "one subscription per function"


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
    assert params["route"] == "route"
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


def test_image_pushed_is_routed_only_from_the_allow_listed_namespace() -> None:
    prefix = image_route()["subjectBeginsWith"]
    assert prefix == "mlops/"
    default = parsed(MAIN)["parameters"]["allowedRepositories"]["default"]
    allowed = [*default.split(","), *Settings.model_fields["allowed_repositories"].default]
    assert allowed and all(f"{repo.strip()}:1.0".startswith(prefix) for repo in allowed)
    assert not f"{AZURE_ML_BUILD}:latest".startswith(prefix)
    assert (
        "allowedRepositories"
        in module_params(MAIN, "functionApp")["mlopsSettings"]["MLOPS_ALLOWED_REPOSITORIES"]
    )


def test_the_local_event_grid_drops_azure_ml_builds_and_routes_serving_pushes(
    tmp_path: Path,
) -> None:
    grid = LocalEventGrid(tmp_path / "eventgrid.db")
    registry, digest = "contosomlops.azurecr.io", "sha256:" + "ab" * 32
    acr = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
    grid.publish(topics.image_pushed(acr, registry, AZURE_ML_BUILD, digest=digest, tag="latest"))
    assert grid.pending() == 0
    grid.publish(
        topics.image_pushed(acr, registry, "mlops/sklearn-serving", digest=digest, tag="1.4.2")
    )
    assert grid.pending() == 1
