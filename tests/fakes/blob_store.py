"""BlobStore in memory, addressed by URL like the adapters."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from shared.domain.events import split_blob_url
from shared.domain.values import BlobProperties
from shared.ports import NotFound


class InMemoryBlobStore:
    """Blobs of one account/container, addressed by URL like the real adapters."""

    def __init__(
        self,
        account_url: str = "https://contosodata.blob.core.windows.net",
        container: str = "training-data",
    ) -> None:
        self.account_url = account_url
        self.container = container
        self.blobs: dict[str, tuple[bytes, str, str]] = {}

    def put(self, blob_path: str, data: bytes, content_type: str = "text/csv") -> BlobProperties:
        etag = f'"0x8D{uuid.uuid4().hex[:13].upper()}"'
        self.blobs[blob_path] = (data, content_type, etag)
        return BlobProperties(self.url_for(blob_path), len(data), content_type, etag)

    def url_for(self, blob_path: str) -> str:
        """Each segment percent-encoded, as the storage SDKs and Event Grid spell a URL."""
        segments = "/".join(quote(segment, safe="") for segment in blob_path.split("/"))
        return f"{self.account_url}/{self.container}/{segments}"

    def properties(self, url: str) -> BlobProperties:
        path = self._path(url)
        if path not in self.blobs:
            raise NotFound(f"no blob at {url}")
        data, content_type, etag = self.blobs[path]
        return BlobProperties(url, len(data), content_type, etag)

    def read_head(self, url: str, max_bytes: int) -> bytes:
        if max_bytes < 0:  # a slice would quietly drop the tail instead
            raise ValueError("max_bytes must not be negative")
        path = self._path(url)
        if path not in self.blobs:
            raise NotFound(f"no blob at {url}")
        return self.blobs[path][0][:max_bytes]

    def _path(self, url: str) -> str:
        account_url, container, blob_path = split_blob_url(url)
        if account_url.lower() != self.account_url.lower() or container != self.container:
            raise ValueError(f"URL is outside {self.account_url}/{self.container}")
        return blob_path
