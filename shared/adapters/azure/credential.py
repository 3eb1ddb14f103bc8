"""The one credential of the process, chosen in one place and shared by every client."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# Set by App Service / Functions when a managed identity is reachable (and on every instance).
_AZURE_HOST_MARKERS = ("IDENTITY_ENDPOINT", "MSI_ENDPOINT", "WEBSITE_INSTANCE_ID")

_lock = threading.Lock()
_credential: TokenCredential | None = None


def running_in_azure(env: Mapping[str, str] = os.environ) -> bool:
    return any(env.get(name) for name in _AZURE_HOST_MARKERS)


def choose_credential(
    client_id: str | None, env: Mapping[str, str] = os.environ
) -> TokenCredential:
    """The user-assigned managed identity in Azure; elsewhere the developer's sign-in
    (environment, workload identity, Azure CLI ...), never an interactive browser."""
    if running_in_azure(env):
        from azure.identity import ManagedIdentityCredential

        return ManagedIdentityCredential(client_id=client_id)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(
        exclude_interactive_browser_credential=True, managed_identity_client_id=client_id
    )


def process_credential(client_id: str | None) -> TokenCredential:
    """Built on first use, then the same object for the life of the process: its token
    cache is what keeps managed identity calls off every request."""
    global _credential
    with _lock:
        if _credential is None:
            _credential = choose_credential(client_id)
        return _credential
