"""The ContainerRegistry contract, run on every implementation: the local folder of manifests,
the Azure adapter (a real ContainerRegistryClient whose requests a registry stand-in answers
through the recording transport, challenge and token exchange included) and the tests' fake.

image_pushed relies on these promises: a manifest is described by the registry (the host in
lower case, the repository, the digest asked for, a size), a digest the registry does not hold
in that repository is ``NotFound`` (the event is refused, never retried), and the host
compares in any case, as DNS does.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

from shared.adapters.azure.container_registry import AzureContainerRegistry
from shared.adapters.local.container_registry import LocalContainerRegistry
from shared.ports import ContainerRegistry, NotFound
from tests.contract.recording import Canned, FakeCredential, Recorded, RecordingTransport
from tests.contract.test_container_registry import ACCESS, CHALLENGE, REFRESH, errors
from tests.fakes import InMemoryContainerRegistry

HOST = "contosomlops.azurecr.io"
REPOSITORY = "mlops/sklearn-serving"
OTHER = "mlops/experimental"


@dataclass
class Harness:
    registry: ContainerRegistry
    push: Callable[[str, bytes], str]  # repository, manifest bytes -> the digest


class RegistryStandIn:
    """Manifests as ACR reports them (GetManifestAttributes): state kept here, a request
    without the access token challenged first, as ACR does."""

    def __init__(self, transport: RecordingTransport) -> None:
        self.manifests: dict[tuple[str, str], int] = {}
        manifests = rf"^https://{re.escape(HOST)}/acr/v1/.+/_manifests/"
        transport.add("GET", manifests, self.get, repeat=True)
        transport.add("POST", rf"https://{re.escape(HOST)}/oauth2/exchange", REFRESH, repeat=True)
        transport.add("POST", rf"https://{re.escape(HOST)}/oauth2/token", ACCESS, repeat=True)

    def push(self, repository: str, body: bytes) -> str:
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        self.manifests[(repository, digest)] = len(body)
        return digest

    def get(self, request: Recorded) -> Canned:
        if "authorization" not in {name.lower() for name in request.headers}:
            return CHALLENGE
        quoted_repository, _, quoted_digest = request.path.removeprefix("/acr/v1/").partition(
            "/_manifests/"
        )
        repository, digest = unquote(quoted_repository), unquote(quoted_digest)
        size = self.manifests.get((repository, digest))
        if size is None:
            return errors(404, "MANIFEST_UNKNOWN")
        manifest = {"digest": digest, "imageSize": size, "createdTime": "2026-11-26T06:17:20Z"}
        return Canned(200, {"registry": HOST, "imageName": repository, "manifest": manifest})


@pytest.fixture(params=["fake", "local", "azure"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "fake":
        fake = InMemoryContainerRegistry()
        return Harness(fake, lambda repo, body: fake.push(HOST, repo, body.decode()))
    if request.param == "local":
        local = LocalContainerRegistry(tmp_path / "registry")
        return Harness(local, lambda repo, body: local.push(HOST, repo, body).digest)
    transport = RecordingTransport()
    stand_in = RegistryStandIn(transport)
    azure = AzureContainerRegistry([HOST], FakeCredential(token="entra"), transport=transport)
    return Harness(azure, stand_in.push)


MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'


def test_a_pushed_manifest_is_described_by_the_registry(harness: Harness) -> None:
    digest = harness.push(REPOSITORY, MANIFEST)

    found = harness.registry.manifest(HOST, REPOSITORY, digest)

    assert (found.registry, found.repository, found.digest) == (HOST, REPOSITORY, digest)
    assert found.image == f"{HOST}/{REPOSITORY}@{digest}"
    assert found.size is not None and found.size > 0


def test_the_host_compares_in_any_case(harness: Harness) -> None:
    digest = harness.push(REPOSITORY, MANIFEST)

    assert harness.registry.manifest(HOST.upper(), REPOSITORY, digest).registry == HOST


def test_a_digest_the_registry_does_not_hold_is_not_found(harness: Harness) -> None:
    harness.push(REPOSITORY, MANIFEST)
    missing = "sha256:" + hashlib.sha256(b"never pushed").hexdigest()

    with pytest.raises(NotFound):
        harness.registry.manifest(HOST, REPOSITORY, missing)


def test_a_digest_pushed_to_another_repository_is_not_found_in_this_one(
    harness: Harness,
) -> None:
    digest = harness.push(OTHER, MANIFEST)

    with pytest.raises(NotFound):
        harness.registry.manifest(HOST, REPOSITORY, digest)
