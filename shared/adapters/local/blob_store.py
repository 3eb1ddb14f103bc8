"""A folder standing in for one blob container, addressed by the same URLs as Azure."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from shared.domain.values import BlobProperties
from shared.ports import NotFound

_DEFAULT_CONTENT_TYPE = "application/octet-stream"


class LocalBlobStore:
    """Blobs are files under ``root``; content type and etag live in a sibling folder
    (``ROOT.meta``) so a dataset folder handed to training holds data files only."""

    def __init__(self, root: Path, account_url: str, container: str) -> None:
        self.root = root.resolve()
        self.account_url = account_url.rstrip("/")
        self.container = container
        self._meta_root = self.root.with_name(self.root.name + ".meta")
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalBlobStore({self.account_url}/{self.container} -> {self.root})"

    def url_for(self, blob_path: str) -> str:
        segments = "/".join(quote(segment, safe="") for segment in blob_path.split("/"))
        return f"{self.account_url}/{self.container}/{segments}"

    def path_for(self, url: str) -> Path:
        """The local path of a blob or folder URL; refuses anything outside the container."""
        return self._local(self._relative(url))

    def upload(self, blob_path: str, data: bytes, content_type: str) -> BlobProperties:
        target = self._local(blob_path)
        if not blob_path or target == self.root:
            raise ValueError("blob path names the container itself")
        etag = _new_etag(data)
        _atomic_write(target, data)
        meta = {"content_type": content_type, "etag": etag}
        _atomic_write(self._meta_path(target), json.dumps(meta).encode())
        return BlobProperties(self.url_for(blob_path), len(data), content_type, etag)

    def properties(self, url: str) -> BlobProperties:
        target = self.path_for(url)
        try:
            stat = target.stat()
        except FileNotFoundError:
            raise NotFound(f"no blob at {url}") from None
        if not target.is_file():
            raise NotFound(f"{url} is a folder, not a blob")
        try:
            meta = json.loads(self._meta_path(target).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            # A file copied in by hand: describe it the way Azure describes an untyped upload.
            meta = {"content_type": _DEFAULT_CONTENT_TYPE, "etag": _stat_etag(stat)}
        return BlobProperties(url, stat.st_size, str(meta["content_type"]), str(meta["etag"]))

    def read_head(self, url: str, max_bytes: int) -> bytes:
        if max_bytes < 0:
            raise ValueError("max_bytes must not be negative")
        target = self.path_for(url)
        try:
            with target.open("rb") as handle:
                return handle.read(max_bytes)
        except (FileNotFoundError, IsADirectoryError):
            raise NotFound(f"no blob at {url}") from None

    def _relative(self, url: str) -> str:
        """The decoded path inside the container (empty for the container itself)."""
        parts, home = urlsplit(url), urlsplit(self.account_url)
        if parts.query or parts.fragment:
            raise ValueError("blob URL must not carry a query or fragment")
        if (parts.scheme.lower(), parts.netloc.lower()) != (
            home.scheme.lower(),
            home.netloc.lower(),
        ):
            raise ValueError(f"URL is outside the storage account {self.account_url}")
        container_path = f"{home.path}/{self.container}"
        if parts.path not in (container_path, container_path + "/") and not (
            parts.path.startswith(container_path + "/")
        ):
            raise ValueError(f"URL is outside the container {self.container}")
        return unquote(parts.path[len(container_path) + 1 :], errors="strict")

    def _local(self, blob_path: str) -> Path:
        if "\\" in blob_path or "\x00" in blob_path or blob_path.startswith("/"):
            raise ValueError("blob path must be relative, without backslashes or NUL")
        target = (self.root / blob_path).resolve()
        if not target.is_relative_to(self.root):
            raise ValueError("blob path resolves outside the container folder")
        return target

    def _meta_path(self, target: Path) -> Path:
        return self._meta_root / (str(target.relative_to(self.root)) + ".json")


def _new_etag(data: bytes) -> str:
    """Azure-shaped ("0x8D" + 13 hex digits), different for every write, like Azure's."""
    digest = hashlib.sha256(data + time.time_ns().to_bytes(8, "big")).hexdigest()
    return f'"0x8D{digest[:13].upper()}"'


def _stat_etag(stat: os.stat_result) -> str:
    digest = hashlib.sha256(f"{stat.st_mtime_ns}:{stat.st_size}".encode()).hexdigest()
    return f'"0x8D{digest[:13].upper()}"'


def _atomic_write(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).replace(target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
