"""The training-data container on azure-storage-blob: metadata and bounded range reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import HttpResponseError

from shared.adapters.azure._errors import sdk_options, translated
from shared.domain.values import BlobProperties

if TYPE_CHECKING:
    from azure.storage.blob import BlobClient

_DEFAULT_CONTENT_TYPE = "application/octet-stream"
# Storage has its own retry policy, starting at 15 s: far too slow inside an invocation.
_STORAGE_BACKOFF = {"initial_backoff": 1, "increment_base": 2}


class AzureBlobStore:
    """Reads blobs of one account and container, and refuses any URL outside them before
    a request is made. ``credential`` is the managed identity in Azure (a named key for
    Azurite in tests); ``client_options`` reach the SDK client (e.g. a transport)."""

    def __init__(
        self, account_url: str, container: str, credential: Any, **client_options: Any
    ) -> None:
        from azure.storage.blob import ContainerClient

        self.account_url = account_url.rstrip("/")
        self.container = container
        self._client = ContainerClient(
            self.account_url,
            container,
            credential=credential,
            **sdk_options({**_STORAGE_BACKOFF, **client_options}),
        )

    def __repr__(self) -> str:
        return f"AzureBlobStore({self.account_url}/{self.container})"

    def properties(self, url: str) -> BlobProperties:
        blob = self._blob(url)
        with translated(f"blob {url}"):
            props = blob.get_blob_properties()
        content_type = props.content_settings.content_type or _DEFAULT_CONTENT_TYPE
        return BlobProperties(url, int(props.size), content_type, _event_etag(props.etag))

    def read_head(self, url: str, max_bytes: int) -> bytes:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        blob = self._blob(url)
        if max_bytes == 0:
            return b""
        with translated(f"blob {url}"):
            try:
                return blob.download_blob(offset=0, length=max_bytes).readall()
            except HttpResponseError as error:
                if error.status_code == 416:  # a range on an empty blob is "unsatisfiable"
                    return b""
                raise

    def _blob(self, url: str) -> BlobClient:
        return self._client.get_blob_client(self._blob_name(url))

    def _blob_name(self, url: str) -> str:
        """The decoded blob name of ``url``; ValueError for anything outside the container."""
        parts, home = urlsplit(url), urlsplit(self.account_url)
        if parts.query or parts.fragment or "@" in parts.netloc:
            raise ValueError("blob URL must not carry a query, fragment or credentials")
        if (parts.scheme.lower(), parts.netloc.lower()) != (
            home.scheme.lower(),
            home.netloc.lower(),
        ):
            raise ValueError(f"URL is outside the storage account {self.account_url}")
        prefix = f"{home.path}/{self.container}/"
        if not parts.path.startswith(prefix):
            raise ValueError(f"URL is outside the container {self.container}")
        name = unquote(parts.path[len(prefix) :], errors="strict")
        segments = name.split("/")
        if not name or "" in segments or {".", ".."} & set(segments):
            raise ValueError("blob name must be a plain relative path")
        if "\\" in name or any(ord(char) < 0x20 or ord(char) == 0x7F for char in name):
            raise ValueError("blob name must not contain backslashes or control characters")
        return name


def _event_etag(etag: str) -> str:
    """The HTTP ETag header is quoted; Event Grid's ``data.eTag`` is not. Compare like with
    like: the reconciler checks a stored event eTag against this value."""
    return etag.strip('"')
