"""Name-level rules agree end to end (issue 12, section 1).

Whatever ``check_blob_path`` accepts, every later step takes as it is: the event's URL
parses back to the same path, the job gets a valid name of its own, the Azure job
submission sends the file's path inside the dataset folder, the local platform finds the
file and training reads it. So a name is refused up front or not at all; it never fails a
window, a job or every later job of its dataset.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.adapters.local.blob_store import LocalBlobStore
from shared.adapters.local.model_registry import NAME
from shared.domain.errors import Rejected
from shared.domain.events import split_blob_url
from shared.domain.validation import check_blob_path
from shared.domain.values import TrainingJobRequest
from shared.services.reconciler import dataset_url, job_name
from shared.settings import Settings, service_settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "training" / "src"))
import training_data  # train.py's own module, imported as the job imports it

ACCOUNT = "https://contosodata.blob.core.windows.net"
CONTAINER = "training-data"
SETTINGS = service_settings(Settings(storage_account_url=ACCOUNT, training_container=CONTAINER))
CSV = b"label,text\nham,see you at noon\nspam,WIN a prize now\n"
WINDOW = "0123456789abcdef"

# Segments that were trouble somewhere, beside arbitrary text (surrogates and controls too).
TRICKY = st.sampled_from(
    [
        "my data",
        "a%41b",
        "%2e%2e",
        "..",
        ".",
        "a.",
        "-rf",
        "q#?&=+;",
        "~user",
        "$(id)",
        "\ud800",
        "\ue000",
        "é" * 130,
        "x" * 251,
        "日本語",
        "tab\tname",
        "\u202eevil",
    ]
)
PRINTABLE = st.characters(codec=None, exclude_categories=("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
SEGMENT = st.one_of(
    TRICKY,
    st.text(PRINTABLE, min_size=1, max_size=16),  # mostly accepted: exercises the later steps
    st.text(st.characters(codec=None), max_size=16),  # anything at all
)
PATHS = st.lists(SEGMENT, min_size=2, max_size=5).map(lambda parts: "/".join(parts) + ".csv")


def url_for(blob_path: str) -> str:
    """The blob's URL as the storage SDKs and Event Grid spell it: each segment encoded."""
    return f"{ACCOUNT}/{CONTAINER}/" + "/".join(quote(s, safe="") for s in blob_path.split("/"))


def accepted(blob_path: str) -> bool:
    try:
        check_blob_path(blob_path)
    except Rejected:
        return False
    return True


def azure_relative_names(request: TrainingJobRequest) -> list[str]:
    """What the Azure job submission puts in its accepted_files input, decoded."""
    from shared.adapters.azure.ml_jobs import _accepted_files

    names: list[str] = json.loads(base64.urlsafe_b64decode(_accepted_files(request)))
    return names


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)
@given(PATHS)
@example("my data/part 1.csv")
@example("a%41b/q#?&=+;.csv")
@example("Données/" + "é" * 120 + ".csv")
def test_a_name_check_blob_path_accepts_is_accepted_by_every_later_step(blob_path: str) -> None:
    if not accepted(blob_path):
        return
    dataset, relative = blob_path.split("/", 1)
    url = url_for(blob_path)

    assert split_blob_url(url) == (ACCOUNT, CONTAINER, blob_path)  # the event's URL

    name = job_name(dataset, WINDOW)
    assert NAME.fullmatch(name) and len(name) <= 64 and name.endswith(WINDOW)

    folder = dataset_url(SETTINGS, dataset)
    request = TrainingJobRequest(name, dataset, folder, "spam-classifier", None, files=(url,))
    assert azure_relative_names(request) == [relative]

    with tempfile.TemporaryDirectory() as tmp:
        store = LocalBlobStore(Path(tmp) / "container", ACCOUNT, CONTAINER)
        stored = store.upload(blob_path, CSV, "text/csv")
        assert store.properties(url).etag == stored.etag
        data_root = store.path_for(folder)
        file = store.path_for(url)
        assert file.relative_to(data_root).as_posix() == relative  # the local job's input

        data, files = training_data.load(data_root, [relative])
        assert data.skipped == {} and files == [file]
        assert not any("not a path inside" in p or "missing" in p for p in data.problems)


@given(
    st.text(st.characters(codec=None), max_size=300),
    st.text("0123456789abcdef", min_size=16, max_size=16),
)
@settings(max_examples=300, deadline=None)
def test_two_windows_never_share_a_job_name(dataset: str, window_id: str) -> None:
    assert job_name(dataset, window_id) != job_name(dataset, window_id[::-1]) or (
        window_id == window_id[::-1]
    )
    assert NAME.fullmatch(job_name(dataset, window_id))


@pytest.mark.parametrize(
    "blob_path",
    [
        "data/\ud800.csv",  # a lone surrogate: no UTF-8 file name or URL can hold it
        "data/\ue000.csv",  # private use: Azure refuses it in blob names
        "data/" + "x" * 251 + ".csv",  # longer than a file name may be
        "d./file.csv",  # Azure: avoid names ending with a dot
        "/".join(["d"] * 255) + ".csv",  # more than 254 segments
        "/".join(["é" * 100] * 6) + ".csv",  # under 1,024 characters, over 1,024 UTF-8 bytes
    ],
)
def test_what_a_later_step_could_not_take_is_refused_up_front(blob_path: str) -> None:
    assert not accepted(blob_path)
