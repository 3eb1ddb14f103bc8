"""A folder standing in for the serving images' registry: manifests by digest.

``push`` writes a manifest the way a registry stores one, under the sha256 of its bytes;
``manifest`` answers what the registry would: the manifest of that digest in that repository,
or NotFound. A file whose bytes no longer hash to its name is not that manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from shared.ports import Manifest, NotFound

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# A login server host (a port allowed), and OCI distribution-spec repository names: both
# refused before they become path segments, so no name climbs out of the folder.
_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?")
_REPOSITORY = re.compile(r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*")
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")


class LocalContainerRegistry:
    """Manifests live at ``ROOT/<host>/<repository>/_manifests/<sha256 hex>``."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalContainerRegistry({self.root})"

    def push(self, registry: str, repository: str, manifest: bytes | None = None) -> Manifest:
        """Store ``manifest`` (by default a minimal OCI image manifest naming the repository)
        and return it as the registry now describes it."""
        body = manifest if manifest is not None else _minimal_manifest(repository)
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        path = self._path(registry, repository, digest)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():  # content-addressed: the same bytes are the same manifest
            _atomic_write(path, body)
        return self.manifest(registry, repository, digest)

    def manifest(self, registry: str, repository: str, digest: str) -> Manifest:
        path = self._path(registry, repository, digest)
        try:
            body = path.read_bytes()
            created = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no manifest {digest} in {registry}/{repository}") from None
        if "sha256:" + hashlib.sha256(body).hexdigest() != digest:
            raise NotFound(f"{path.name} in {registry}/{repository} does not hash to its digest")
        return Manifest(registry.lower(), repository, digest, created.isoformat(), len(body))

    def _path(self, registry: str, repository: str, digest: str) -> Path:
        host = registry.lower()
        if not _HOST.fullmatch(host):
            raise ValueError("registry must be a login server host name")
        if not _REPOSITORY.fullmatch(repository):
            raise ValueError("repository must be a lower-case OCI repository name")
        found = _DIGEST.fullmatch(digest)
        if found is None:
            raise ValueError("digest must be sha256:<64 lowercase hex>")
        return self.root.joinpath(host.replace(":", "_"), *repository.split("/")).joinpath(
            "_manifests", found.group(1)
        )


def _minimal_manifest(repository: str) -> bytes:
    """An OCI image manifest whose config names the repository (so each repository's first
    push has its own digest)."""
    config = hashlib.sha256(repository.encode()).hexdigest()
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": f"sha256:{config}",
            "size": len(repository),
        },
        "layers": [],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _atomic_write(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".push-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
