"""Shared fixtures: the services wired to recording fakes, reached through the real functions."""

from __future__ import annotations

import copy
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from shared import bootstrap
from shared.adapters.local import system_events as topics
from shared.adapters.project_files import REPO_ROOT, load_smoke_set
from shared.devhost import delivery
from shared.services.deps import Deps
from shared.settings import Settings, service_settings
from tests.fakes import (
    FakeClock,
    InMemoryBlobStore,
    InMemoryContainerRegistry,
    InMemoryStateStore,
    NoSecrets,
    RecordingAuditSink,
)
from tests.fakes.ml_platform import FakeMLPlatform

pytest_plugins = ["tests.azurite"]  # the session-wide Azurite fixture

ACCOUNT = "https://contosodata.blob.core.windows.net"
STORAGE_TOPIC = (
    "/subscriptions/1f0c2b7e-0000-4000-8000-000000000001/resourceGroups/rg-mlops/providers"
    "/Microsoft.Storage/storageAccounts/contosodata"
)
WORKSPACE_TOPIC = (
    "/subscriptions/1f0c2b7e-0000-4000-8000-000000000001/resourceGroups/rg-mlops/providers"
    "/Microsoft.MachineLearningServices/workspaces/mlw-contoso"
)
ACR_TOPIC = (
    "/subscriptions/1f0c2b7e-0000-4000-8000-000000000001/resourceGroups/rg-mlops/providers"
    "/Microsoft.ContainerRegistry/registries/contosomlops"
)
GOOD_CSV = b"label,text\nham,see you at noon\nspam,WIN a prize now call 0900\n"

# The test harness's own MLOPS_* variables: where `make test` says the tools are, whether a
# missing tool fails, and the fuzzing seed. They configure the tests, not the app, so they stay.
HARNESS_VARIABLES = frozenset(
    {
        "MLOPS_REQUIRE_TOOLS",
        "MLOPS_AZURITE",
        "MLOPS_ACTIONLINT",
        "MLOPS_AZMLINFSRV",
        "MLOPS_CHECKOV",
        "MLOPS_CHROMIUM",
        "MLOPS_KUSTO",
        "MLOPS_DOT",
        "MLOPS_SCHEMATHESIS_SEED",
    }
)
# What the app reads besides its MLOPS_* settings: "this is a Function App" (api_guard), "App
# Service Authentication is on", "export telemetry" (function_app), "a managed identity is
# here" (credential).
HOST_VARIABLES = frozenset(
    {
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "WEBSITE_AUTH_ENABLED",
        "WEBSITE_SITE_NAME",
        "WEBSITE_INSTANCE_ID",
        "FUNCTIONS_WORKER_RUNTIME",
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
    }
)


def app_variables(environ: Mapping[str, str]) -> list[str]:
    """The variables in ``environ`` that would change what the app does."""
    return sorted(
        name
        for name in environ
        if (name.startswith("MLOPS_") and name not in HARNESS_VARIABLES) or name in HOST_VARIABLES
    )


def pytest_configure(config: pytest.Config) -> None:
    """A developer's shell must not change a result: its app settings are gone before
    collection and session fixtures (hosts, Azurite) start, and for every subprocess."""
    for name in app_variables(os.environ):
        del os.environ[name]


@pytest.fixture(autouse=True)
def _no_app_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Again before each test, in case an earlier one set os.environ without monkeypatch."""
    for name in app_variables(os.environ):
        monkeypatch.delenv(name)


@dataclass
class World:
    deps: Deps
    platform: FakeMLPlatform
    state: InMemoryStateStore
    audit: RecordingAuditSink
    blobs: InMemoryBlobStore
    clock: FakeClock

    def deliver(self, function: str, event: dict[str, Any]) -> None:
        """Hand one event to a function registered in function_app, as the host does."""
        delivery.invoke(function, event)

    def upload(
        self, blob_path: str, data: bytes = GOOD_CSV, content_type: str = "text/csv"
    ) -> dict[str, Any]:
        return topics.blob_created(STORAGE_TOPIC, self.blobs.put(blob_path, data, content_type))

    @property
    def registry(self) -> InMemoryContainerRegistry:
        """The fake registry the services ask (push an image there before its event)."""
        assert isinstance(self.deps.registry, InMemoryContainerRegistry)
        return self.deps.registry

    def reconcile(self) -> None:
        from azure.functions.timer import TimerRequest

        from shared.devhost.functions_registry import user_function

        user_function("reconcile_rollouts", "timerTrigger")(TimerRequest())

    def outcomes(self, action: str) -> list[str]:
        return [e.outcome for e in self.audit.entries if e.action == action]


def model_registered(name: str, version: str, tags: dict[str, str] | None = None) -> dict[str, Any]:
    """The event as Event Grid sends it: camelCase fields on the wire."""
    return {
        "id": str(uuid.uuid4()),
        "topic": WORKSPACE_TOPIC,
        "subject": f"models/{name}:{version}",
        "eventType": "Microsoft.MachineLearningServices.ModelRegistered",
        "eventTime": "2026-11-26T10:02:00.1234567Z",
        "data": {
            "modelName": name,
            "modelVersion": version,
            "modelTags": tags or {},
            "modelProperties": {},
        },
        "dataVersion": "2",
        "metadataVersion": "1",
    }


def to_cloud(event: dict[str, Any]) -> dict[str, Any]:
    """The same event in CloudEvents 1.0."""
    return {
        "specversion": "1.0",
        "id": event["id"],
        "source": event["topic"],
        "subject": event["subject"],
        "type": event["eventType"],
        "time": event["eventTime"],
        "data": copy.deepcopy(event["data"]),
    }


@pytest.fixture
def world() -> Iterator[World]:
    settings = Settings(
        storage_account_url=ACCOUNT,
        coalesce_quiet_seconds=60,
        canary_seconds=300,
    )
    clock = FakeClock()
    smoke = load_smoke_set(REPO_ROOT / "shared" / "smoke_set.tsv")
    platform = FakeMLPlatform(smoke)
    state, audit, blobs = (
        InMemoryStateStore(),
        RecordingAuditSink(clock),
        InMemoryBlobStore(ACCOUNT),
    )
    platform.app_state = state  # add_model's jobs are ones this app submitted
    registry = InMemoryContainerRegistry(clock)
    deps = Deps(
        service_settings(settings),
        platform,
        blobs,
        state,
        NoSecrets(),
        audit,
        clock,
        smoke,
        registry,
    )
    bootstrap.install(deps)
    yield World(deps, platform, state, audit, blobs, clock)
    bootstrap.install(None)
