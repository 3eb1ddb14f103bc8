"""AzureContainerRegistry through the real ContainerRegistryClient, answered by a recording
transport: the challenge, the Entra -> ACR token exchange, and the manifest GET.

Shapes from azure-rest-api-specs (containerregistry data-plane 2021-07-01, examples
GetManifestAttributes, PostRefreshToken, PostAccessToken) and the challenge ACR sends for a
manifest read (Azure/acr docs/AAD-OAuth.md; the azure-sdk-for-js recording of
get_manifest_properties: scope ``repository:<name>:metadata_read``).
"""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from shared.adapters.azure.container_registry import ACR_AUDIENCE, AzureContainerRegistry
from shared.ports import AccessDenied, Manifest, NotFound, TransientError
from tests.contract.recording import Canned, FakeCredential, Recorded, RecordingTransport

HOST = "contosomlops.azurecr.io"
REPOSITORY = "mlops/sklearn-serving"
DIGEST = "sha256:110d2b6c84592561338aa040b1b14b7ab81c2f9edbd564c2285dd7d70d777086"
MANIFEST_URL = r"/acr/v1/mlops%2Fsklearn-serving/_manifests/sha256%3A110d2b6c"
SCOPE = f"repository:{REPOSITORY}:metadata_read"
CHALLENGE = Canned(
    401,
    {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
    {
        "WWW-Authenticate": (
            f'Bearer realm="https://{HOST}/oauth2/token",service="{HOST}",scope="{SCOPE}"'
        )
    },
)
REFRESH = Canned(200, {"refresh_token": "acr-refresh-token"})
ACCESS = Canned(200, {"access_token": "acr-access-token"})
ATTRIBUTES = Canned(
    200,
    {
        "registry": HOST,
        "imageName": REPOSITORY,
        "manifest": {
            "digest": DIGEST,
            "imageSize": 2401606,
            "createdTime": "2026-11-26T06:17:20.9983915Z",
            "lastUpdateTime": "2026-11-26T06:17:20.9983915Z",
            "architecture": "amd64",
            "os": "linux",
            "tags": ["1.4.2"],
            "changeableAttributes": {
                "deleteEnabled": True,
                "writeEnabled": True,
                "readEnabled": True,
                "listEnabled": True,
            },
        },
    },
)


def errors(status: int, code: str) -> Canned:
    """The registry's error body (``{"errors": [...]}``, Docker registry v2 style)."""
    return Canned(status, {"errors": [{"code": code, "message": code.lower()}]})


def make(transport: RecordingTransport) -> tuple[AzureContainerRegistry, FakeCredential]:
    credential = FakeCredential(token="entra-token")
    return AzureContainerRegistry([HOST], credential, transport=transport), credential


def form(recorded: Recorded) -> dict[str, str]:
    assert recorded.body is not None, f"{recorded.method} {recorded.url} has no body"
    return {k: v[-1] for k, v in parse_qs(recorded.body.decode()).items()}


def exchanging(transport: RecordingTransport, *manifest_answers: Canned) -> None:
    transport.add("GET", MANIFEST_URL, CHALLENGE, *manifest_answers)
    transport.add("POST", rf"https://{HOST}/oauth2/exchange", REFRESH)
    transport.add("POST", rf"https://{HOST}/oauth2/token", ACCESS)


def test_a_manifest_is_read_after_the_challenge_and_the_token_exchange() -> None:
    transport = RecordingTransport()
    exchanging(transport, ATTRIBUTES)
    registry, credential = make(transport)

    found = registry.manifest(HOST, REPOSITORY, DIGEST)

    assert found == Manifest(HOST, REPOSITORY, DIGEST, "2026-11-26T06:17:20.998391+00:00", 2401606)
    first, second = transport.sent("GET", MANIFEST_URL)
    assert first.url.startswith(f"https://{HOST}/acr/v1/mlops%2Fsklearn-serving/_manifests/")
    assert first.query["api-version"] == "2021-07-01"
    assert "Authorization" not in first.headers  # the challenge names service and scope
    exchange = form(transport.one("POST", "/oauth2/exchange"))
    assert exchange == {
        "grant_type": "access_token",
        "service": HOST,
        "access_token": "entra-token",
    }
    token = form(transport.one("POST", "/oauth2/token"))
    assert token == {
        "grant_type": "refresh_token",
        "service": HOST,
        "scope": SCOPE,
        "refresh_token": "acr-refresh-token",
    }
    assert second.headers["Authorization"] == "Bearer acr-access-token"
    # The Entra token is asked for the ACR audience, never ARM's.
    assert credential.requested() == {f"{ACR_AUDIENCE}/.default"}
    assert [r.method for r in transport.requests] == ["GET", "POST", "POST", "GET"]
    transport.assert_consumed()


def test_the_registry_host_compares_in_lower_case() -> None:
    transport = RecordingTransport()
    exchanging(transport, ATTRIBUTES)
    registry, _ = make(transport)
    assert registry.manifest("ContosoMLOps.AzureCR.io", REPOSITORY, DIGEST).registry == HOST
    assert {r.host for r in transport.requests} == {HOST}


@pytest.mark.parametrize("code", ["MANIFEST_UNKNOWN", "NAME_UNKNOWN"])
def test_a_manifest_the_registry_does_not_hold_is_not_found(code: str) -> None:
    transport = RecordingTransport()
    exchanging(transport, errors(404, code))
    registry, _ = make(transport)
    with pytest.raises(NotFound, match="does not exist"):
        registry.manifest(HOST, REPOSITORY, DIGEST)


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_identity_is_access_denied_and_says_which_role(status: int) -> None:
    transport = RecordingTransport()
    exchanging(transport, errors(status, "DENIED"))
    registry, _ = make(transport)
    with pytest.raises(AccessDenied, match=f"HTTP {status} on /acr/v1/.*needs AcrPull on {HOST}"):
        registry.manifest(HOST, REPOSITORY, DIGEST)


def test_a_refused_token_exchange_is_access_denied() -> None:
    transport = RecordingTransport()
    transport.add("GET", MANIFEST_URL, CHALLENGE)
    transport.add("POST", "/oauth2/exchange", errors(401, "UNAUTHORIZED"))
    registry, _ = make(transport)
    with pytest.raises(AccessDenied, match="HTTP 401 on /oauth2/exchange"):
        registry.manifest(HOST, REPOSITORY, DIGEST)
    assert not transport.sent("POST", "/oauth2/token")


@pytest.mark.parametrize("status", [500, 503])
def test_a_failing_registry_is_transient_after_the_sdk_s_own_retries(status: int) -> None:
    transport = RecordingTransport()
    transport.add("GET", MANIFEST_URL, errors(status, "INTERNAL"), repeat=True)
    registry, _ = make(transport)
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        registry.manifest(HOST, REPOSITORY, DIGEST)
    assert len(transport.sent("GET", MANIFEST_URL)) == 4  # retry_total 3


def test_a_failing_token_endpoint_is_transient() -> None:
    transport = RecordingTransport()
    transport.add("GET", MANIFEST_URL, CHALLENGE, repeat=True)
    transport.add("POST", "/oauth2/exchange", errors(503, "UNAVAILABLE"), repeat=True)
    registry, _ = make(transport)
    with pytest.raises(TransientError, match="HTTP 503"):
        registry.manifest(HOST, REPOSITORY, DIGEST)


@pytest.mark.parametrize(
    "host", ["evil.example.io", "contosomlops.azurecr.io.evil.example.io", "contosomlops"]
)
def test_a_registry_off_the_list_is_refused_before_any_request(host: str) -> None:
    transport = RecordingTransport()
    registry, credential = make(transport)
    with pytest.raises(ValueError, match="not one this app reads"):
        registry.manifest(host, REPOSITORY, DIGEST)
    assert transport.requests == [] and credential.scopes == []


def test_nothing_secret_in_the_adapter_s_repr() -> None:
    registry, _ = make(RecordingTransport())
    assert repr(registry) == f"AzureContainerRegistry({HOST})"
