"""Fakes that keep state in memory and follow the port contracts, for service tests."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from shared.domain.audit import GENESIS_HASH, AuditEntry, AuditRecord, ChainKey, chain
from shared.domain.canary import TrafficSample
from shared.domain.events import split_blob_url
from shared.domain.values import BlobProperties, Stored
from shared.ports import ConcurrencyConflict, Manifest, NotFound


class FakeClock:
    def __init__(self, start: datetime = datetime(2025, 1, 1, tzinfo=UTC)) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


class InMemoryStateStore:
    """Values are copied through JSON on the way in and out, as a real store would."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str], tuple[str, str]] = {}

    def get(self, kind: str, key: str) -> Stored | None:
        return self._stored(kind, key) if (kind, key) in self.docs else None

    def put(self, kind: str, key: str, value: Mapping[str, Any], *, etag: str | None) -> str:
        document = json.dumps(value, sort_keys=True, allow_nan=False)
        current = self.docs.get((kind, key))
        if etag is None and current is not None:
            raise ConcurrencyConflict(f"{kind}/{key} already exists")
        if etag is not None and (current is None or current[1] != etag):
            raise ConcurrencyConflict(f"{kind}/{key} changed or is missing")
        new_etag = uuid.uuid4().hex
        self.docs[(kind, key)] = (document, new_etag)
        return new_etag

    def list(self, kind: str, prefix: str = "") -> Sequence[Stored]:
        keys = sorted(key for k, key in self.docs if k == kind and key.startswith(prefix))
        return [self._stored(kind, key) for key in keys]

    def list_where(self, kind: str, field: str, values: Collection[str]) -> Sequence[Stored]:
        return [s for s in self.list(kind) if s.value.get(field) in set(values)]

    def _stored(self, kind: str, key: str) -> Stored:
        document, etag = self.docs[(kind, key)]
        return Stored(key, json.loads(document), etag)


TEST_CHAIN_KEY = ChainKey(bytes(range(32)))  # the fake's audit chain key


class RecordingAuditSink:
    """Keeps what services asked to record (``entries``) and the sealed chain (``records``)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.entries: list[AuditEntry] = []
        self.records: list[AuditRecord] = []
        self.flushes = 0

    def append(self, entry: AuditEntry) -> AuditRecord:
        prev = self.records[-1].hash if self.records else GENESIS_HASH
        # Sealed as the adapters seal it: the details as JSON reads them back.
        details = json.loads(json.dumps(dict(entry.details), allow_nan=False, default=str))
        record = chain(
            replace(entry, details=details),
            seq=len(self.records) + 1,
            time=self.clock.now(),
            prev_hash=prev,
            key=TEST_CHAIN_KEY,
        )
        self.entries.append(entry)
        self.records.append(record)
        return record

    def flush(self) -> int:
        self.flushes += 1
        return 0

    def actions(self) -> list[tuple[str, str]]:
        return [(entry.action, entry.outcome) for entry in self.entries]


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


class InMemoryContainerRegistry:
    """Manifests pushed to registries (hosts compare in lower case, as DNS does); every
    question asked is kept in ``asked``. ``failure``, when set, is raised instead of an
    answer (a registry that is down, or refuses the app's identity)."""

    def __init__(self, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock()
        self.manifests: dict[tuple[str, str, str], Manifest] = {}
        self.asked: list[tuple[str, str, str]] = []
        self.failure: Exception | None = None

    def push(self, registry: str, repository: str, content: str = "", *, digest: str = "") -> str:
        """Store a manifest and return its digest: the sha256 of its bytes, as registries
        name manifests (or ``digest``, for a test that names it beforehand)."""
        body = content or f"{registry}/{repository}#{len(self.manifests)}"
        digest = digest or "sha256:" + hashlib.sha256(body.encode()).hexdigest()
        self.manifests[(registry.lower(), repository, digest)] = Manifest(
            registry.lower(), repository, digest, self.clock.now().isoformat(), len(body)
        )
        return digest

    def manifest(self, registry: str, repository: str, digest: str) -> Manifest:
        self.asked.append((registry, repository, digest))
        if self.failure is not None:
            raise self.failure
        try:
            return self.manifests[(registry.lower(), repository, digest)]
        except KeyError:
            raise NotFound(f"manifest {registry}/{repository}@{digest}") from None


class RecordedLiveTraffic:
    """Live traffic as a test sets it: ``samples[(endpoint, deployment)]`` answers every
    window (none set: no traffic); each question asked is kept in ``asked``. ``failure``,
    when set, is raised instead (a metrics source that is down)."""

    def __init__(self) -> None:
        self.samples: dict[tuple[str, str], TrafficSample] = {}
        self.asked: list[tuple[str, str, datetime, datetime]] = []
        self.failure: Exception | None = None

    def deployment_sample(
        self, endpoint: str, deployment: str, start: datetime, end: datetime
    ) -> TrafficSample:
        self.asked.append((endpoint, deployment, start, end))
        if self.failure is not None:
            raise self.failure
        return self.samples.get((endpoint, deployment), TrafficSample(0, 0, None))
