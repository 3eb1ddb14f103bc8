"""The local registry stand-in: a folder of manifests by digest, read through the port."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest

from shared.adapters.local import backend as local_backend
from shared.adapters.local.container_registry import LocalContainerRegistry
from shared.ports import NotFound
from shared.settings import Settings

HOST = "contosomlops.azurecr.io"
REPOSITORY = "mlops/sklearn-serving"
VALID = "sha256:" + "a" * 64


def test_a_pushed_manifest_is_found_by_the_sha256_of_its_bytes(tmp_path: Path) -> None:
    registry = LocalContainerRegistry(tmp_path / "registry")
    body = b'{"schemaVersion":2}'
    pushed = registry.push(HOST, REPOSITORY, body)
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    assert (pushed.registry, pushed.repository, pushed.digest, pushed.size) == (
        HOST,
        REPOSITORY,
        digest,
        len(body),
    )
    assert pushed.created.endswith("+00:00")
    assert registry.manifest(HOST.upper(), REPOSITORY, digest) == pushed  # DNS: any case
    assert pushed.image == f"{HOST}/{REPOSITORY}@{digest}"


def test_the_default_manifest_is_an_oci_image_manifest_per_repository(tmp_path: Path) -> None:
    registry = LocalContainerRegistry(tmp_path / "registry")
    first = registry.push(HOST, REPOSITORY)
    assert registry.push(HOST, REPOSITORY) == first  # content-addressed: the same manifest
    assert registry.push(HOST, "mlops/other").digest != first.digest


def test_a_digest_not_pushed_to_that_repository_is_not_found(tmp_path: Path) -> None:
    registry = LocalContainerRegistry(tmp_path / "registry")
    digest = registry.push(HOST, "mlops/other").digest
    with pytest.raises(NotFound):
        registry.manifest(HOST, REPOSITORY, digest)
    with pytest.raises(NotFound):
        registry.manifest("other.azurecr.io", "mlops/other", digest)
    with pytest.raises(NotFound):
        registry.manifest(HOST, REPOSITORY, "sha256:" + "0" * 64)


def test_a_manifest_file_changed_on_disk_is_not_that_digest(tmp_path: Path) -> None:
    registry = LocalContainerRegistry(tmp_path / "registry")
    pushed = registry.push(HOST, REPOSITORY, b'{"schemaVersion":2}')
    [stored] = (tmp_path / "registry").rglob(pushed.digest.removeprefix("sha256:"))
    stored.write_bytes(b'{"schemaVersion":2,"evil":true}')
    with pytest.raises(NotFound, match="does not hash to its digest"):
        registry.manifest(HOST, REPOSITORY, pushed.digest)


@pytest.mark.parametrize(
    ("host", "repository", "digest"),
    [
        ("../evil", REPOSITORY, VALID),
        ("contoso/evil", REPOSITORY, VALID),
        (HOST, "../../etc", VALID),
        (HOST, "mlops/../../x", VALID),
        (HOST, "/abs", VALID),
        (HOST, "Mlops/Upper", VALID),
        (HOST, REPOSITORY, "latest"),
        (HOST, REPOSITORY, "sha256:" + "A" * 64),
        (HOST, REPOSITORY, "sha256:" + "a" * 63 + "/"),
    ],
)
def test_names_that_are_not_registry_names_are_refused_before_any_path(
    tmp_path: Path, host: str, repository: str, digest: str
) -> None:
    registry = LocalContainerRegistry(tmp_path / "registry")
    with pytest.raises(ValueError, match="must be"):
        registry.manifest(host, repository, digest)
    if digest == VALID:  # a push names no digest: its bytes do
        with pytest.raises(ValueError, match="must be"):
            registry.push(host, repository)
    assert [p.name for p in tmp_path.iterdir()] == ["registry"]
    assert list((tmp_path / "registry").iterdir()) == []


def test_the_local_backend_reads_what_the_demo_pushes(tmp_path: Path) -> None:
    backend = local_backend.build(Settings(home=tmp_path / "home"))
    try:
        pushed = backend.registry.push(HOST, REPOSITORY)
        assert backend.deps.registry.manifest(HOST, REPOSITORY, pushed.digest) == pushed
        [manifest_file] = (tmp_path / "home" / "registry").rglob("_manifests/*")
        assert stat.S_IMODE(manifest_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(manifest_file.parent.stat().st_mode) == 0o700
    finally:
        backend.close()
