"""The SecretStore contract, run on every implementation: the local file (and environment),
Key Vault through the real SecretClient answered by a vault stand-in on the recording
transport, and the tests' fake (a store that holds nothing).

The audit chain key is read through it: a secret is read back as stored, a missing one is
``NotFound`` (never an empty string), and a value shows in no repr and no error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from shared.adapters.azure.secret_store import KeyVaultSecretStore
from shared.adapters.local.secret_store import EnvFileSecretStore
from shared.ports import NotFound, SecretStore
from tests.contract.recording import Canned, FakeCredential, Recorded, RecordingTransport, error
from tests.contract.test_keyvault import CHALLENGE, secret_body, vault_url
from tests.fakes import NoSecrets

VALUE = "s3cr3t-value-0042"


@dataclass
class Harness:
    store: SecretStore
    put: Callable[[str, str], object] | None  # None: a store that holds nothing


class VaultStandIn:
    """Secrets as Key Vault answers GetSecret (latest version), a challenge first."""

    def __init__(self, vault: str, transport: RecordingTransport) -> None:
        self.vault, self.secrets = vault, dict[str, str]()
        transport.add("GET", rf"^{re.escape(vault)}/secrets/", self.get, repeat=True)

    def get(self, request: Recorded) -> Canned:
        if "Authorization" not in request.headers:
            return CHALLENGE
        name = request.path.removeprefix("/secrets/").strip("/")
        if name not in self.secrets:
            return error(404, "SecretNotFound", f"A secret with (name/id) {name} was not found")
        return secret_body(self.vault, name, self.secrets[name])


def _harness(kind: str, tmp_path: Path) -> Harness:
    if kind == "fake":
        return Harness(NoSecrets(), None)
    if kind == "local":
        local = EnvFileSecretStore(tmp_path / "secrets.json")
        return Harness(local, lambda name, value: local.ensure(name, lambda: value))
    vault, transport = vault_url(), RecordingTransport()
    stand_in = VaultStandIn(vault, transport)
    azure = KeyVaultSecretStore(vault, FakeCredential(), transport=transport)
    return Harness(azure, stand_in.secrets.__setitem__)


@pytest.fixture(params=["fake", "local", "azure"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    return _harness(request.param, tmp_path)


@pytest.fixture(params=["local", "azure"])
def holding(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    """The stores that can hold a secret (the fake holds none)."""
    return _harness(request.param, tmp_path)


def test_a_secret_is_read_back_as_stored(holding: Harness) -> None:
    assert holding.put is not None
    holding.put("audit-chain-key", VALUE)

    assert holding.store.get("audit-chain-key") == VALUE


def test_a_missing_secret_is_not_found(harness: Harness) -> None:
    if harness.put is not None:
        harness.put("audit-chain-key", VALUE)

    with pytest.raises(NotFound) as missing:
        harness.store.get("no-such-secret")
    assert VALUE not in str(missing.value)


def test_a_value_shows_in_no_repr(harness: Harness) -> None:
    if harness.put is not None:
        harness.put("audit-chain-key", VALUE)
        harness.store.get("audit-chain-key")

    assert VALUE not in repr(harness.store)
