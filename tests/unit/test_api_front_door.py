"""In a Function App, the manual API trusts X-MS-CLIENT-PRINCIPAL only with App Service
Authentication in front: with it off, every request is refused (503), audited as anonymous,
and nothing else happens (no rate-limit count, no rollout), whatever the header claims."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared import bootstrap
from shared.services.api_guard import RATE
from shared.services.rollouts import ROLLOUT
from tests.conftest import World
from tests.unit.test_api_helpers import ENDPOINT, MODEL, ROUTES, Reply, call, serve

HOSTED = [
    {"WEBSITE_SITE_NAME": "func-mlops-prod"},
    {"WEBSITE_INSTANCE_ID": "8b0f..."},
    {"FUNCTIONS_WORKER_RUNTIME": "python"},
]
OFF = [None, "False", "false", "", "1", "yes", "True-ish"]
ARGS: dict[str, dict[str, Any]] = {
    "api_list_endpoints": {},
    "api_get_endpoint": {"route_params": {"endpoint": ENDPOINT}},
    "api_redeploy": {
        "route_params": {"endpoint": ENDPOINT},
        "body": {"model": MODEL, "version": "1", "reason": "r"},
    },
    "api_rollback": {"route_params": {"endpoint": ENDPOINT}, "body": {"reason": "r"}},
    "api_train": {"route_params": {"dataset": "spam"}, "body": {"reason": "r"}},
    "api_get_operation": {"route_params": {"operation_id": "0" * 32}},
}


def environment(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str | None]) -> None:
    """None of them is set to begin with: tests/conftest.py clears them."""
    for name, value in variables.items():
        if value is not None:
            monkeypatch.setenv(name, value)


def assert_refused(world: World, reply: Reply, function: str, before: int) -> None:
    assert (reply.status, reply.body["error"]) == (503, "authentication_off")
    assert "App Service Authentication is off" in reply.body["message"]
    assert "WEBSITE_AUTH_ENABLED" in reply.body["message"]
    [refusal] = world.audit.entries[before:]
    action = f"api.{function.removeprefix('api_')}"
    assert (refusal.actor, refusal.outcome, refusal.action) == ("anonymous", "rejected", action)
    assert "WEBSITE_AUTH_ENABLED" in refusal.reason
    assert "principal" not in refusal.details  # the claimed caller is not recorded as one
    assert world.state.list(RATE) == []  # not even counted


@pytest.mark.parametrize("hosted", HOSTED)
@pytest.mark.parametrize("auth", OFF)
@pytest.mark.parametrize("function", sorted(ARGS))
def test_in_a_function_app_without_authentication_every_request_is_refused(
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    hosted: dict[str, str],
    auth: str | None,
    function: str,
) -> None:
    serve(world, "1", "2")
    rollouts, before = len(world.state.list(ROLLOUT)), len(world.audit.entries)
    environment(monkeypatch, {**hosted, "WEBSITE_AUTH_ENABLED": auth})

    reply = call(function, **ARGS[function])  # as Alice, MLOps.Deployer, by the header

    assert_refused(world, reply, function, before)
    assert len(world.state.list(ROLLOUT)) == rollouts


def test_the_azure_backend_refuses_without_authentication_even_off_app_service(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(monkeypatch, {})
    azure = replace(world.deps.settings, backend="azure")
    bootstrap.install(replace(world.deps, settings=azure))
    reply = call("api_list_endpoints")
    assert_refused(world, reply, "api_list_endpoints", 0)


@pytest.mark.parametrize("auth", ["True", "true", " TRUE "])
def test_with_authentication_on_the_api_serves_as_usual(
    world: World, monkeypatch: pytest.MonkeyPatch, auth: str
) -> None:
    serve(world, "1", "2")
    environment(monkeypatch, {"WEBSITE_SITE_NAME": "func-mlops-prod", "WEBSITE_AUTH_ENABLED": auth})
    assert call("api_list_endpoints").status == 200
    assert call("api_redeploy", **ARGS["api_redeploy"]).status == 202


def test_off_azure_nothing_claims_to_be_in_front(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment(monkeypatch, {"WEBSITE_AUTH_ENABLED": "False"})
    assert call("api_list_endpoints").status == 200


def test_the_openapi_document_stays_public(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """It reads no header and is an excluded path of the deployed authentication too."""
    environment(monkeypatch, {"WEBSITE_SITE_NAME": "func-mlops-prod"})
    assert call("api_openapi", principal=None).status == 200


def test_every_api_route_is_covered() -> None:
    assert set(ARGS) | {"api_openapi"} == set(ROUTES)
