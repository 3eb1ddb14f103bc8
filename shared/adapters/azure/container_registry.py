"""The serving images' registry on azure-containerregistry: what a manifest is, by digest.

``ContainerRegistryClient.get_manifest_properties`` sends
``GET /acr/v1/{repository}/_manifests/{digest}``; the registry answers 401 with a Bearer
challenge, and the SDK's challenge policy trades the identity's Entra token for an ACR
refresh token (``POST /oauth2/exchange``), that for an access token scoped to the repository
(``POST /oauth2/token``), and sends the GET again. The Entra token is asked for the ACR
audience, which a registry accepts whether or not it also accepts ARM-audience tokens.
Reading a manifest is what AcrPull grants (infra/modules/rbac-app.bicep).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.adapters.azure._errors import is_transient, sdk_options
from shared.ports import AccessDenied, Manifest, NotFound, TransientError

if TYPE_CHECKING:
    from azure.containerregistry import ContainerRegistryClient
    from azure.core.credentials import TokenCredential

# Learn, "Configure registry acceptance of Microsoft Entra authentication scopes": the
# ACR-scoped audience (the SDK's default, stated here so a change of default cannot move it).
ACR_AUDIENCE = "https://containerregistry.azure.net"
_MANIFESTS = "/_manifests/"


class AzureContainerRegistry:
    """Asks only the registries in ``hosts`` (login servers): the app's token goes nowhere
    else, whatever an event names. ``client_options`` reach the SDK (e.g. a transport)."""

    def __init__(
        self, hosts: Iterable[str], credential: TokenCredential, **client_options: Any
    ) -> None:
        self.hosts = frozenset(host.lower() for host in hosts)
        self._credential = credential
        self._options = sdk_options(client_options)
        self._clients: dict[str, ContainerRegistryClient] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AzureContainerRegistry({', '.join(sorted(self.hosts))})"

    def manifest(self, registry: str, repository: str, digest: str) -> Manifest:
        host = registry.lower()
        client = self._client(host)
        what = f"manifest {digest} in {host}/{repository}"
        try:
            props = client.get_manifest_properties(repository, digest)
        except ResourceNotFoundError as error:
            if _MANIFESTS in _path_of(error):  # not a 404 from the token endpoints
                raise NotFound(f"{what} does not exist") from None
            raise TransientError(f"{what}: HTTP 404 from {_path_of(error)}") from error
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as error:
            status = getattr(error, "status_code", None)
            if status in (401, 403):
                raise AccessDenied(
                    f"{what}: the registry refused the app's identity (HTTP {status} on "
                    f"{_path_of(error) or 'the token exchange'}); it needs AcrPull on {host}"
                ) from error
            if is_transient(error):
                raise TransientError(f"{what}: HTTP {status or type(error).__name__}") from error
            raise
        created = props.created_on.isoformat() if props.created_on else ""
        return Manifest(host, repository, str(props.digest), created, props.size_in_bytes)

    def _client(self, host: str) -> ContainerRegistryClient:
        if host not in self.hosts:
            raise ValueError(f"registry {host[:100]!r} is not one this app reads")
        with self._lock:
            client = self._clients.get(host)
            if client is None:
                from azure.containerregistry import ContainerRegistryClient

                client = ContainerRegistryClient(
                    f"https://{host}", self._credential, audience=ACR_AUDIENCE, **self._options
                )
                self._clients[host] = client  # keeps its ACR refresh token between calls
            return client


def _path_of(error: Exception) -> str:
    """The path of the request that failed ("" when the error carries none)."""
    request = getattr(getattr(error, "response", None), "request", None)
    return urlsplit(str(getattr(request, "url", "") or "")).path
