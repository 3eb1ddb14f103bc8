"""StateStore in memory: compare-and-set by eTag, values copied through JSON."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from shared.domain.values import Stored
from shared.ports import ConcurrencyConflict


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
