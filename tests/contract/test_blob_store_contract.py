"""The BlobStore contract, run on every implementation: the local folder store, the Azure
adapter against Azurite, and the tests' fake.

data_arrived relies on these promises: a blob is described as written (size, content type,
an eTag that changes with every write), a missing blob is ``NotFound`` (the event is
rejected, not retried), a URL outside the configured account or container is refused with
``ValueError`` before anything is read, and the first bytes are a bounded read.
Azure quotes an HTTP ETag and Event Grid's ``data.eTag`` does not: the services compare
them without quotes, so the contract does too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from shared.adapters.azure.blob_store import AzureBlobStore
from shared.adapters.local.blob_store import LocalBlobStore
from shared.ports import BlobStore, NotFound
from tests.azurite import Azurite
from tests.fakes import InMemoryBlobStore

ACCOUNT = "https://contosodata.blob.core.windows.net"
CONTAINER = "training-data"


@dataclass
class Harness:
    store: BlobStore
    write: Callable[[str, bytes, str], object]  # blob path, data, content type
    account_url: str
    container: str

    def url_for(self, blob_path: str) -> str:
        """As the storage SDKs and Event Grid spell it: each segment percent-encoded."""
        segments = "/".join(quote(segment, safe="") for segment in blob_path.split("/"))
        return f"{self.account_url}/{self.container}/{segments}"


@pytest.fixture(params=["fake", "local", "azure"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fake":
        fake = InMemoryBlobStore(ACCOUNT, CONTAINER)
        yield Harness(fake, fake.put, ACCOUNT, CONTAINER)
    elif request.param == "local":
        local = LocalBlobStore(tmp_path / CONTAINER, ACCOUNT, CONTAINER)
        yield Harness(local, local.upload, ACCOUNT, CONTAINER)
    else:
        from azure.storage.blob import ContainerClient, ContentSettings

        azurite: Azurite = request.getfixturevalue("azurite")
        name = f"c{uuid.uuid4().hex[:20]}"  # the tests share one Azurite
        container = ContainerClient(azurite.blob_url, name, azurite.credential)
        container.create_container()

        def write(blob_path: str, data: bytes, content_type: str) -> object:
            settings = ContentSettings(content_type=content_type)
            return container.upload_blob(blob_path, data, overwrite=True, content_settings=settings)

        store = AzureBlobStore(azurite.blob_url, name, azurite.credential)
        yield Harness(store, write, azurite.blob_url, name)
        container.delete_container()


DATA = b"label,text\n" + b"ham,see you at noon\n" * 500


def test_a_blob_is_described_as_written(harness: Harness) -> None:
    harness.write("spam/batch 1/part-001.csv", DATA, "text/csv")
    url = harness.url_for("spam/batch 1/part-001.csv")

    props = harness.store.properties(url)

    assert (props.url, props.size, props.content_type) == (url, len(DATA), "text/csv")
    assert props.etag.strip('"')


def test_every_write_changes_the_etag(harness: Harness) -> None:
    harness.write("spam/a.csv", DATA, "text/csv")
    url = harness.url_for("spam/a.csv")
    before = harness.store.properties(url)
    harness.write("spam/a.csv", DATA + b"spam,WIN\n", "text/csv")

    after = harness.store.properties(url)

    assert after.etag.strip('"') != before.etag.strip('"')
    assert after.size == len(DATA) + len(b"spam,WIN\n")


def test_the_head_is_a_bounded_read(harness: Harness) -> None:
    harness.write("spam/a.csv", DATA, "text/csv")
    url = harness.url_for("spam/a.csv")

    assert harness.store.read_head(url, 10) == DATA[:10]
    assert harness.store.read_head(url, 10_000_000) == DATA
    assert harness.store.read_head(url, 0) == b""
    with pytest.raises(ValueError, match="negative"):
        harness.store.read_head(url, -1)


def test_an_empty_blob_has_size_zero_and_an_empty_head(harness: Harness) -> None:
    harness.write("spam/empty.csv", b"", "text/csv")
    url = harness.url_for("spam/empty.csv")

    assert harness.store.properties(url).size == 0
    assert harness.store.read_head(url, 100) == b""


def test_a_missing_blob_is_not_found(harness: Harness) -> None:
    url = harness.url_for("spam/none.csv")

    with pytest.raises(NotFound):
        harness.store.properties(url)
    with pytest.raises(NotFound):
        harness.store.read_head(url, 10)


@pytest.mark.parametrize(
    "outside",
    [
        lambda h: h.url_for("spam/a.csv").replace(h.account_url, "https://attacker.example"),
        lambda h: h.url_for("spam/a.csv").replace(f"/{h.container}/", "/other-container/"),
        lambda h: h.url_for("spam/a.csv") + "?sv=2024&sig=x",
    ],
    ids=["another-account", "another-container", "a-query"],
)
def test_a_url_outside_the_account_or_container_is_refused(
    harness: Harness, outside: Callable[[Harness], str]
) -> None:
    harness.write("spam/a.csv", DATA, "text/csv")
    url = outside(harness)

    with pytest.raises(ValueError):
        harness.store.properties(url)
    with pytest.raises(ValueError):
        harness.store.read_head(url, 10)
