"""The blob store on azure-storage-blob, against Azurite and a recording transport."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from azure.storage.blob import ContainerClient, ContentSettings

from shared.adapters.azure.blob_store import AzureBlobStore
from shared.ports import NotFound, TransientError
from tests.azurite import Azurite
from tests.contract.recording import Canned, RecordingTransport

ACCOUNT = "https://contosodata.blob.core.windows.net"


@pytest.fixture
def container(azurite: Azurite) -> ContainerClient:
    client = ContainerClient(azurite.blob_url, f"c{uuid.uuid4().hex[:20]}", azurite.credential)
    client.create_container()
    return client


def upload(container: ContainerClient, name: str, data: bytes, content_type: str) -> str:
    container.upload_blob(name, data, content_settings=ContentSettings(content_type=content_type))
    return f"{container.url}/{quote(name)}"


def test_properties_and_a_bounded_head_read(azurite: Azurite, container: ContainerClient) -> None:
    data = b"label,text\n" + b"ham,hello there\n" * 1000
    url = upload(container, "spam/batch 1.csv", data, "text/csv")
    store = AzureBlobStore(azurite.blob_url, container.container_name, azurite.credential)
    props = store.properties(url)
    assert (props.url, props.size, props.content_type) == (url, len(data), "text/csv")
    assert props.etag.startswith("0x") and '"' not in props.etag  # as Event Grid's data.eTag
    assert props.etag == container.get_blob_client(
        "spam/batch 1.csv"
    ).get_blob_properties().etag.strip('"')
    assert store.read_head(url, 10) == data[:10]
    assert store.read_head(url, 10_000_000) == data
    assert store.read_head(url, 0) == b""


def test_an_empty_blob_reads_as_empty(azurite: Azurite, container: ContainerClient) -> None:
    url = upload(container, "spam/empty.csv", b"", "text/csv")
    store = AzureBlobStore(azurite.blob_url, container.container_name, azurite.credential)
    assert store.properties(url).size == 0
    assert store.read_head(url, 100) == b""


def test_missing_blob_is_not_found(azurite: Azurite, container: ContainerClient) -> None:
    store = AzureBlobStore(azurite.blob_url, container.container_name, azurite.credential)
    url = f"{container.url}/spam/none.csv"
    with pytest.raises(NotFound, match=r"none\.csv"):
        store.properties(url)
    with pytest.raises(NotFound):
        store.read_head(url, 10)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.blob.core.windows.net/training-data/a/b.csv",
        "http://contosodata.blob.core.windows.net/training-data/a/b.csv",
        f"{ACCOUNT}/other/a/b.csv",
        f"{ACCOUNT}/training-data-2/a/b.csv",
        f"{ACCOUNT}/training-data/",
        f"{ACCOUNT}/training-data/a/../../secrets/b.csv",
        f"{ACCOUNT}/training-data/a/%2e%2e/b.csv",
        f"{ACCOUNT}/training-data/a%5cb.csv",
        f"{ACCOUNT}/training-data/a%00.csv",
        f"{ACCOUNT}/training-data/a.csv?sv=2020&sig=x",
        "https://user@contosodata.blob.core.windows.net/training-data/a.csv",
    ],
)
def test_urls_outside_the_container_are_refused_before_any_request(url: str) -> None:
    transport = RecordingTransport()  # no routes: any request would fail the test
    store = AzureBlobStore(ACCOUNT, "training-data", _token(), transport=transport)
    with pytest.raises(ValueError):
        store.properties(url)
    with pytest.raises(ValueError):
        store.read_head(url, 10)
    assert transport.requests == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(status: int) -> None:
    transport = RecordingTransport()
    transport.add("HEAD", r"/training-data/spam/a\.csv$", Canned(status), repeat=True)
    store = AzureBlobStore(ACCOUNT, "training-data", _token(), transport=transport, retry_total=0)
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        store.properties(f"{ACCOUNT}/training-data/spam/a.csv")


def test_an_unreachable_account_is_transient() -> None:
    store = AzureBlobStore(
        "http://127.0.0.1:9/devstoreaccount1", "training-data", _key(), retry_total=0
    )
    with pytest.raises(TransientError):
        store.properties("http://127.0.0.1:9/devstoreaccount1/training-data/spam/a.csv")


def test_the_head_read_asks_for_a_bounded_range(
    azurite: Azurite, container: ContainerClient
) -> None:
    url = upload(container, "spam/big.csv", b"label,text\n" + b"x" * 100_000, "text/csv")
    transport = RecordingTransport()
    transport.forward(r"^http://127\.0\.0\.1:", lambda original: original)
    store = AzureBlobStore(
        azurite.blob_url, container.container_name, azurite.credential, transport=transport
    )
    assert store.read_head(url, 5) == b"label"
    (sent,) = transport.sent("GET", r"/spam/big\.csv$")
    assert sent.headers["x-ms-range"] == "bytes=0-4"


def _token() -> object:
    from tests.contract.recording import FakeCredential

    return FakeCredential()


def _key() -> object:
    from azure.core.credentials import AzureNamedKeyCredential

    from tests.azurite import ACCOUNT as NAME
    from tests.azurite import ACCOUNT_KEY

    return AzureNamedKeyCredential(NAME, ACCOUNT_KEY)
