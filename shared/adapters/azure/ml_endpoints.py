"""Managed online endpoints, deployments and traffic, for ``AzureMLPlatform``.

Every ``begin_*`` call starts the operation and returns, and leaves nothing running: the
reconciler follows progress through ``get_endpoint`` / ``get_deployment``. azure-ai-ml's
``begin_*`` return an ``LROPoller`` whose constructor starts a daemon thread that polls the
operation until it ends, long after the handler returned, with the process credential, and
raises (logs) what it meets there, a 403 included. Those methods take no ``polling`` option,
so ``start_only`` passes ``polling=False`` to the generated ARM client beneath them: azure-core
then uses ``NoPolling``, whose poller is finished at once and starts no thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from azure.ai.ml import MLClient, load_online_deployment, load_online_endpoint
from azure.ai.ml.entities import (
    Environment,
    IdentityConfiguration,
    ManagedIdentityConfiguration,
    OnlineDeployment,
    OnlineEndpoint,
)
from azure.core.exceptions import ResourceNotFoundError

from shared.adapters.azure.ml_errors import translated
from shared.domain.values import (
    DeploymentInfo,
    DeploymentSpec,
    EndpointInfo,
    ModelRef,
    ProvisioningState,
)
from shared.ports import NotFound, TransientError

# Azure ML provisioning states of endpoints and deployments as the domain's.
_PROVISIONING: Mapping[str, ProvisioningState] = {
    "Creating": "creating",
    "Updating": "creating",
    "Scaling": "creating",
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Canceled": "failed",
    "Deleting": "deleting",
}
# "azureml:name:version" or an ARM id ".../models/name/versions/version".
_MODEL_REF = re.compile(r"(?:^azureml:|/models/)([^:/]+)[:/](?:versions/)?([^:/]+)$")
_IMAGE_VARIABLE = "MLOPS_SERVING_IMAGE"
# An image of our own needs its routes stated (Learn, "Use a custom container to deploy a model
# to an online endpoint": inference config); training/serving/Dockerfile runs the inference
# server on 5001 as Azure ML's minimal images do, "/" live and ready, "/score" scoring.
SERVING_ROUTES = {
    "liveness_route": {"path": "/", "port": 5001},
    "readiness_route": {"path": "/", "port": 5001},
    "scoring_route": {"path": "/score", "port": 5001},
}
_TAGS = {"managed-by": "secure-mlops-azure"}
# Where azure-ai-ml keeps the generated operation groups its begin_* call (its
# operations/_online_endpoint_operations.py and _online_deployment_operations.py).
_GENERATED = (
    ("online_endpoints", "_online_operation"),
    ("online_deployments", "_online_deployment"),
)


class AzureEndpoints:
    def __init__(
        self,
        ml_client: MLClient,
        *,
        endpoint_spec: Path,
        deployment_spec: Path,
        identity_id: str,
    ) -> None:
        start_only(ml_client)
        self._ml = ml_client
        self._endpoint_spec = endpoint_spec
        self._deployment_spec = deployment_spec
        self._identity_id = identity_id

    def get_endpoint(self, name: str) -> EndpointInfo:
        with translated(f"endpoint {name}"):
            endpoint = self._ml.online_endpoints.get(name)
            deployments = list(self._ml.online_deployments.list(name))
        traffic = {str(k): int(v) for k, v in (endpoint.traffic or {}).items()}
        infos = sorted((_deployment_info(name, d) for d in deployments), key=lambda d: d.name)
        return EndpointInfo(name, traffic, tuple(infos))

    def ensure_endpoint(self, name: str) -> EndpointInfo:
        """Start creating the endpoint (Entra ID tokens only, the user-assigned identity that
        may pull from the registry) unless it exists; returns at once, with no deployments."""
        try:
            return self.get_endpoint(name)
        except NotFound:
            pass
        endpoint = load_online_endpoint(self._endpoint_spec, params_override=[{"name": name}])
        endpoint.auth_mode = "aad_token"
        endpoint.identity = IdentityConfiguration(
            type="user_assigned",
            user_assigned_identities=[ManagedIdentityConfiguration(resource_id=self._identity_id)],
        )
        endpoint.tags = {**(endpoint.tags or {}), **_TAGS}
        with translated(f"endpoint {name}"):
            self._ml.online_endpoints.begin_create_or_update(endpoint)
        return EndpointInfo(name, {})

    def begin_deployment(self, spec: DeploymentSpec) -> None:
        """deployment.yml with this colour's name, model and (for an image roll-forward) the
        serving image by digest, which then replaces the template's image + conda build."""
        with translated(f"endpoint {spec.endpoint}"):
            _require_settled(self._ml.online_endpoints.get(spec.endpoint), "the deployment")
        deployment = load_online_deployment(
            self._deployment_spec,
            params_override=[
                {"name": spec.name},
                {"endpoint_name": spec.endpoint},
                {"model": f"azureml:{spec.model.name}:{spec.model.version}"},
            ],
        )
        deployment.environment_variables = {
            **(deployment.environment_variables or {}),
            "MLOPS_MODEL_NAME": spec.model.name,
            "MLOPS_MODEL_VERSION": spec.model.version,
            "MLOPS_DEPLOYMENT": spec.name,
            _IMAGE_VARIABLE: spec.image or "",
        }
        if spec.image is not None:
            deployment.environment = Environment(image=spec.image, inference_config=SERVING_ROUTES)
        deployment.tags = {**(deployment.tags or {}), **_TAGS}
        with translated(f"deployment {spec.endpoint}/{spec.name}"):
            self._ml.online_deployments.begin_create_or_update(deployment)

    def get_deployment(self, endpoint: str, name: str) -> DeploymentInfo:
        with translated(f"deployment {endpoint}/{name}"):
            deployment = self._ml.online_deployments.get(name=name, endpoint_name=endpoint)
        return _deployment_info(endpoint, deployment)

    def set_traffic(self, endpoint: str, traffic: Mapping[str, int]) -> None:
        """Every deployment not named gets 0 (the SDK's ``get`` lists them all); the service
        validates names and the sum."""
        with translated(f"endpoint {endpoint}"):
            current = self._ml.online_endpoints.get(endpoint)
            _require_settled(current, "the traffic change")
            names = set(current.traffic or {}) | set(traffic)
            current.traffic = {name: int(traffic.get(name, 0)) for name in sorted(names)}
            self._ml.online_endpoints.begin_create_or_update(current)

    def begin_delete_deployment(self, endpoint: str, name: str) -> None:
        """Refuses (ValueError) a deployment that still takes traffic, as the port promises,
        whatever the service would answer to the DELETE. A 404 means already gone: deleting
        is idempotent."""
        with translated(f"endpoint {endpoint}"):
            try:
                current = self._ml.online_endpoints.get(endpoint)
            except ResourceNotFoundError:
                return  # no endpoint, so no deployment of it either
        weight = int((current.traffic or {}).get(name, 0))
        if weight > 0:
            raise ValueError(
                f"deployment {name} takes {weight}% of {endpoint}'s traffic;"
                " set it to 0 before deleting it"
            )
        with translated(f"deployment {endpoint}/{name}"), suppress(ResourceNotFoundError):
            self._ml.online_deployments.begin_delete(name=name, endpoint_name=endpoint)


class _StartOnly:
    """A generated operation group whose ``begin_*`` start the operation without polling it."""

    def __init__(self, operations: Any) -> None:
        self.operations = operations

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.operations, name)
        if not name.startswith("begin_"):
            return found

        def begin(*args: Any, **kwargs: Any) -> Any:
            return found(*args, **{**kwargs, "polling": False})  # replaces AzureMLPolling

        return begin


def start_only(ml_client: MLClient) -> None:
    """Make the client's online endpoint and deployment ``begin_*`` leave no poller running;
    fails loudly if an azure-ai-ml upgrade moved what this relies on."""
    for group, attribute in _GENERATED:
        operations = getattr(ml_client, group)
        generated = getattr(operations, attribute, None)
        if generated is None:
            raise RuntimeError(
                f"azure-ai-ml no longer has {group}.{attribute}: its begin_* would leave "
                "pollers running; check ml_endpoints.start_only against the new version"
            )
        if not isinstance(generated, _StartOnly):
            setattr(operations, attribute, _StartOnly(generated))


def _require_settled(endpoint: OnlineEndpoint, change: str) -> None:
    """Azure ML refuses a change to an endpoint that is still being created or updated (the
    endpoint a rollout's first step just started, say): wait for a later tick instead."""
    state = str(getattr(endpoint.provisioning_state, "value", endpoint.provisioning_state))
    if state != "Succeeded":
        raise TransientError(f"endpoint {endpoint.name} is {state}; {change} waits a tick")


def _deployment_info(endpoint: str, deployment: OnlineDeployment) -> DeploymentInfo:
    """The model from the deployment's model reference; the image from the variable
    ``begin_deployment`` set (the environment itself is an anonymous asset's id)."""
    match = _MODEL_REF.search(str(deployment.model or ""))
    model = ModelRef(match.group(1), match.group(2)) if match else ModelRef("", "")
    image = (deployment.environment_variables or {}).get(_IMAGE_VARIABLE) or None
    azure_state = str(
        getattr(deployment.provisioning_state, "value", deployment.provisioning_state)
    )
    state = _PROVISIONING.get(azure_state, "creating")
    error = "" if state != "failed" else f"provisioning {azure_state}"
    return DeploymentInfo(endpoint, str(deployment.name), model, image, state, error)
