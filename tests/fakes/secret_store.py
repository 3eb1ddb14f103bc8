"""A SecretStore that holds no secret."""

from __future__ import annotations

from shared.ports import NotFound


class NoSecrets:
    def get(self, name: str) -> str:
        raise NotFound(name)
