"""Events as the Azure system topics publish them, for the local stand-ins.

Shapes follow the documented Event Grid schemas for Blob Storage and Container Registry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.domain.values import BlobProperties


def blob_created(topic: str, props: BlobProperties, *, api: str = "PutBlob") -> dict[str, Any]:
    """A ``Microsoft.Storage.BlobCreated`` event for a blob the local store just wrote."""
    path = unquote(urlsplit(props.url).path)
    container, _, blob = path.lstrip("/").partition("/")
    if "127.0.0.1" in props.url or "localhost" in props.url:  # path-style: account first
        container, _, blob = blob.partition("/")
    return {
        "topic": topic,
        "subject": f"/blobServices/default/containers/{container}/blobs/{blob}",
        "eventType": "Microsoft.Storage.BlobCreated",
        "eventTime": _now(),
        "id": str(uuid.uuid4()),
        "data": {
            "api": api,
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            "eTag": props.etag,
            "contentType": props.content_type,
            "contentLength": props.size,
            "blobType": "BlockBlob",
            "url": props.url,
            "sequencer": f"{int(datetime.now(UTC).timestamp() * 1e6):032x}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


def image_pushed(
    topic: str, registry: str, repository: str, *, digest: str, tag: str = "", size: int = 524
) -> dict[str, Any]:
    """A ``Microsoft.ContainerRegistry.ImagePushed`` event."""
    return {
        "id": str(uuid.uuid4()),
        "topic": topic,
        "subject": f"{repository}:{tag}" if tag else repository,
        "eventType": "Microsoft.ContainerRegistry.ImagePushed",
        "eventTime": _now(),
        "data": {
            "id": str(uuid.uuid4()),
            "timestamp": _now(),
            "action": "push",
            "target": {
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "size": size,
                "digest": digest,
                "length": size,
                "repository": repository,
                "tag": tag,
            },
            "request": {
                "id": str(uuid.uuid4()),
                "host": registry,
                "method": "PUT",
                "useragent": "docker/27.3.1 go/go1.22.7 git-commit/41ca978 os/linux arch/amd64",
            },
        },
        "dataVersion": "1.0",
        "metadataVersion": "1",
    }


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")
