"""Secrets from Key Vault (SecretClient, RBAC mode), cached for a few minutes."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from azure.core.exceptions import HttpResponseError

from shared.adapters.azure._errors import sdk_options, translated

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

DEFAULT_TTL_SECONDS = 300.0
_REFUSED = frozenset({401, 403})
_NAME = re.compile(r"[0-9A-Za-z-]{1,127}")  # what Key Vault accepts as a secret name


class KeyVaultSecretStore:
    """``get`` serves a cached value for ``ttl`` seconds. A 401/403 drops the cached value
    and fetches once more (a rotated identity or a role assignment that has just landed);
    a second refusal propagates. Values never appear in exceptions, logs or the repr."""

    def __init__(
        self,
        vault_url: str,
        credential: TokenCredential,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        **client_options: Any,
    ) -> None:
        from azure.keyvault.secrets import SecretClient

        self.vault_url = vault_url.rstrip("/")
        self._client = SecretClient(self.vault_url, credential, **sdk_options(client_options))
        self._ttl, self._clock = ttl, clock
        self._cache: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"KeyVaultSecretStore({self.vault_url}, ttl={self._ttl})"

    def get(self, name: str) -> str:
        if not _NAME.fullmatch(name):
            raise ValueError("secret names are 1-127 letters, digits or '-'")
        with self._lock:
            cached = self._cache.get(name)
        if cached and self._clock() < cached[1]:
            return cached[0]
        try:
            value = self._fetch(name)
        except HttpResponseError as error:
            if error.status_code not in _REFUSED:
                raise
            with self._lock:
                self._cache.pop(name, None)
            value = self._refetch(name)
        with self._lock:
            self._cache[name] = (value, self._clock() + self._ttl)
        return value

    def _refetch(self, name: str) -> str:
        try:
            return self._fetch(name)
        except HttpResponseError as error:
            if error.status_code not in _REFUSED:
                raise
            raise PermissionError(
                f"Key Vault refused secret {name!r} (HTTP {error.status_code}): the app's "
                "identity needs the 'Key Vault Secrets User' role on the vault"
            ) from error

    def _fetch(self, name: str) -> str:
        with translated(f"secret {name!r}"):
            secret = self._client.get_secret(name)
        if secret.value is None:
            raise ValueError(f"secret {name!r} has no value")
        return secret.value
