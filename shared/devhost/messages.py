"""What the local host's parts exchange: a request head, the body later, a reply.

A handler first sees only the head, so it can refuse (401, 404, 405) before the body is read;
when it accepts, it returns the continuation that takes the body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Head:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Sequence[tuple[str, str]]
    url: str

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((v for k, v in self.headers if k.lower() == wanted), None)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def header_dict(self) -> dict[str, str]:
        """Headers as a map (repeated ones joined with ", ", as HTTP allows)."""
        merged: dict[str, str] = {}
        for key, value in self.headers:
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return merged


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status,
            json.dumps(document).encode(),
            {"Content-Type": "application/json; charset=utf-8", **(headers or {})},
        )

    @classmethod
    def error(cls, status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
        """A short JSON error that says what is wrong with the request, never why inside."""
        return cls.json(status, {"error": message}, headers)


Continue = Callable[[bytes], Reply]
Prepared = Reply | Continue


def presented_keys(head: Head, *header_names: str) -> list[str]:
    """The keys a request carries: ``code=`` and the given headers (e.g. x-functions-key)."""
    found = [head.param("code")] + [head.header(name) for name in header_names]
    return [key for key in found if key]
