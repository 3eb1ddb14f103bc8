"""KeyVaultSecretStore through the real SecretClient, answered by a recording transport."""

from __future__ import annotations

import uuid

import pytest

from shared.adapters.azure.secret_store import KeyVaultSecretStore
from shared.ports import NotFound, TransientError
from tests.contract.recording import Canned, FakeCredential, RecordingTransport, error

SECRET = "s3cr3t-value-0042"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHALLENGE = Canned(
    401,
    headers={
        "WWW-Authenticate": (
            f'Bearer authorization="https://login.microsoftonline.com/{TENANT}", '
            'resource="https://vault.azure.net"'
        )
    },
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def secret_body(vault: str, name: str, value: str) -> Canned:
    return Canned(200, {"value": value, "id": f"{vault}/secrets/{name}/0123456789abcdef"})


def vault_url() -> str:
    # The SDK caches a vault's challenge per process: a fresh vault name per test.
    return f"https://kv-{uuid.uuid4().hex[:12]}.vault.azure.net"


def make(
    transport: RecordingTransport, vault: str, clock: Clock | None = None
) -> tuple[KeyVaultSecretStore, FakeCredential]:
    credential = FakeCredential()
    store = KeyVaultSecretStore(
        vault, credential, ttl=300, clock=clock or Clock(), transport=transport
    )
    return store, credential


def test_get_follows_the_challenge_and_asks_for_the_vault_scope() -> None:
    vault, transport = vault_url(), RecordingTransport()
    transport.add("GET", r"/secrets/api-key/?\?", CHALLENGE, secret_body(vault, "api-key", SECRET))
    store, credential = make(transport, vault)
    assert store.get("api-key") == SECRET
    first, second = transport.sent("GET", r"/secrets/api-key")
    assert first.url.startswith(f"{vault}/secrets/api-key/?api-version=")  # empty version
    assert first.query["api-version"] == "2026-04-01"
    assert "Authorization" not in first.headers  # the challenge comes first
    assert second.headers["Authorization"] == "Bearer fake-token"
    assert credential.requested() == {"https://vault.azure.net/.default"}
    assert SECRET not in repr(store)


def test_values_are_cached_for_the_ttl() -> None:
    vault, transport, clock = vault_url(), RecordingTransport(), Clock()
    transport.add(
        "GET",
        r"/secrets/api-key/?\?",
        CHALLENGE,
        secret_body(vault, "api-key", "v1"),
        secret_body(vault, "api-key", "v2"),
    )
    store, _ = make(transport, vault, clock)
    assert store.get("api-key") == "v1"
    clock.now += 299
    assert store.get("api-key") == "v1"
    assert len(transport.sent("GET")) == 2  # challenge + one fetch
    clock.now += 2
    assert store.get("api-key") == "v2"  # expired: fetched again
    transport.assert_consumed()


@pytest.mark.parametrize("status", [401, 403])
def test_a_refusal_is_retried_once_then_succeeds(status: int) -> None:
    vault, transport = vault_url(), RecordingTransport()
    refusal = (
        error(status, "Forbidden", "Caller is not authorized")
        if status == 403
        else Canned(401, headers={"WWW-Authenticate": CHALLENGE.headers["WWW-Authenticate"]})
    )
    transport.add(
        "GET",
        r"/secrets/api-key/?\?",
        CHALLENGE,
        refusal,
        *([CHALLENGE] if status == 401 else []),
        secret_body(vault, "api-key", SECRET),
    )
    store, _ = make(transport, vault)
    assert store.get("api-key") == SECRET
    transport.assert_consumed()


def test_a_persistent_refusal_names_the_secret_not_its_value() -> None:
    vault, transport = vault_url(), RecordingTransport()
    transport.add("GET", r"/secrets/api-key/?\?", CHALLENGE)
    transport.add(
        "GET", r"/secrets/api-key/?\?", error(403, "Forbidden", "not allowed"), repeat=True
    )
    store, _ = make(transport, vault)
    with pytest.raises(PermissionError, match=r"'api-key'.*403.*Key Vault Secrets User"):
        store.get("api-key")
    assert len(transport.sent("GET")) == 3  # challenge, refusal, one more try


def test_unknown_secret_is_not_found() -> None:
    vault, transport = vault_url(), RecordingTransport()
    transport.add(
        "GET",
        r"/secrets/nope/?\?",
        CHALLENGE,
        error(404, "SecretNotFound", "A secret with (name/id) nope was not found"),
    )
    store, _ = make(transport, vault)
    with pytest.raises(NotFound, match="'nope'"):
        store.get("nope")


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(status: int) -> None:
    vault, transport = vault_url(), RecordingTransport()
    transport.add("GET", r"/secrets/api-key/?\?", CHALLENGE)
    transport.add(
        "GET",
        r"/secrets/api-key/?\?",
        error(status, "Throttled", "slow down", **{"Retry-After": "1"}),
        repeat=True,
    )
    store, _ = make(transport, vault)
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        store.get("api-key")
    assert len(transport.sent("GET")) == 5  # challenge + the first try + 3 retries
    assert transport.sleeps  # backed off between tries (recorded, not waited)


@pytest.mark.parametrize("name", ["../x", "a b", "", "x" * 128, "under_score"])
def test_names_key_vault_would_refuse_never_leave_the_process(name: str) -> None:
    transport = RecordingTransport()
    store, _ = make(transport, vault_url())
    with pytest.raises(ValueError):
        store.get(name)
    assert transport.requests == []
