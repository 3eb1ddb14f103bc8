"""What a pipeline's image build sets off, on the Azure backend: the ImagePushed event for
mlops/sklearn-serving:<commit> is checked with the registry and rolls the serving model forward
onto the image by digest, with the image's routes.

The registry (challenge, Entra -> ACR token exchange, manifest) and Azure ML (ARM) are the
recording transport, Blob and Table storage Azurite, every adapter built by
``shared.adapters.azure.backend.build`` (tests/e2e/test_azure_backend.py's World). The build
itself is infra/pipelines/build-serving-image.sh (tests/infra/test_serving_image.py).
"""

from __future__ import annotations

from typing import Any

from shared.adapters.azure.ml_endpoints import SERVING_ROUTES
from shared.adapters.local import system_events as topics
from shared.devhost import delivery
from tests.contract.ml_workspace import WORKSPACE, WS, code_version, echo
from tests.contract.recording import Canned
from tests.contract.test_ml_endpoints import deployment_resource, endpoint_resource
from tests.e2e.test_azure_backend import EP, Endpoint, World, world  # noqa: F401  (the fixture)

REGISTRY = "crmlopsprod.azurecr.io"  # World's allowed registry
REPOSITORY = "mlops/sklearn-serving"
COMMIT = "9f1c2e7a" * 5
DIGEST = "sha256:5b0e2d7c1f9a4e3b8d6c0a1f2e3d4c5b6a7980f1e2d3c4b5a69788796a5b4c3d"
ACR_TOPIC = (
    "/subscriptions/1f0c2b7e-0000-4000-8000-000000000001/resourceGroups/rg-mlops"
    "/providers/Microsoft.ContainerRegistry/registries/crmlopsprod"
)
SCOPE = f"repository:{REPOSITORY}:metadata_read"


def registry_answers(at: World) -> None:
    """The registry as tests/contract/test_container_registry.py answers it, for REGISTRY."""
    challenge = Canned(
        401,
        {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
        {
            "WWW-Authenticate": (
                f'Bearer realm="https://{REGISTRY}/oauth2/token",service="{REGISTRY}",'
                f'scope="{SCOPE}"'
            )
        },
    )
    manifest = {
        "digest": DIGEST,
        "imageSize": 2401606,
        "createdTime": "2026-11-29T12:40:00.0000000Z",
        "lastUpdateTime": "2026-11-29T12:40:00.0000000Z",
        "architecture": "amd64",
        "os": "linux",
        "tags": [COMMIT],
    }
    attributes = Canned(200, {"registry": REGISTRY, "imageName": REPOSITORY, "manifest": manifest})
    path = "/acr/v1/mlops%2Fsklearn-serving/_manifests/" + DIGEST.replace(":", "%3A")
    at.transport.add("GET", f"^https://{REGISTRY}{path}", challenge, attributes)
    refresh = Canned(200, {"refresh_token": "acr-refresh-token"})
    access = Canned(200, {"access_token": "acr-access-token"})
    at.transport.add("POST", f"^https://{REGISTRY}/oauth2/exchange", refresh)
    at.transport.add("POST", f"^https://{REGISTRY}/oauth2/token", access)


def serving_blue(at: World) -> Endpoint:
    """spam-classifier v1 serves from blue, on the template's environment."""
    endpoint = Endpoint()
    endpoint.resource = endpoint_resource({"blue": 100})
    endpoint.deployments["blue"] = deployment_resource("blue", "1", "Succeeded")
    endpoint.route(at)
    location = {"id": WORKSPACE, "name": WS, "location": "westeurope"}
    at.arm("GET", "", Canned(200, location), repeat=True)
    at.arm("GET", "/codes/[^/]+/versions", Canned(200, {"value": [code_version("1")]}), repeat=True)
    at.arm("GET", "/codes/src-code/versions/1", Canned(200, code_version("1")), repeat=True)
    at.arm("PUT", "/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]+", echo, repeat=True)
    return endpoint


def test_a_pushed_serving_image_rolls_forward_by_digest_on_the_azure_backend(
    world: World,  # noqa: F811
) -> None:
    serving_blue(world)
    registry_answers(world)

    event = topics.image_pushed(ACR_TOPIC, REGISTRY, REPOSITORY, digest=DIGEST, tag=COMMIT)
    delivery.invoke("on_image_pushed", event)

    image = f"{REGISTRY}/{REPOSITORY}@{DIGEST}"
    assert ("image.pushed", "accepted") in world.actions()
    [pushed] = [row for row in world.audit_rows() if row["Action"] == "image.pushed"]
    assert pushed["Target"] == image
    # The registry was asked, with the app's Entra token exchanged for an ACR one.
    assert world.transport.sent("GET", f"{REGISTRY}/acr/v1/")
    assert "https://containerregistry.azure.net/.default" in world.credential.requested()
    # The serving model, on a new deployment, on the image by digest and its routes.
    green = world.transport.one("PUT", f"/onlineEndpoints/{EP}/deployments/green").json()
    properties: dict[str, Any] = green["properties"]
    assert properties["model"].endswith("/models/spam-classifier/versions/1")
    assert properties["environmentVariables"]["MLOPS_SERVING_IMAGE"] == image
    environment = world.transport.one(
        "PUT", "/environments/CliV2AnonymousEnvironment/versions/"
    ).json()["properties"]
    assert environment["image"] == image
    assert environment["inferenceConfig"] == {
        "livenessRoute": SERVING_ROUTES["liveness_route"],
        "readinessRoute": SERVING_ROUTES["readiness_route"],
        "scoringRoute": SERVING_ROUTES["scoring_route"],
    }
    assert ("rollout.deploying", "accepted") in world.actions()
