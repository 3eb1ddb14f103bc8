"""The pure checks on blob events, data headers, images and names."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from shared.domain.errors import Rejected
from shared.domain.events import DataArrived, EventMeta, ImagePushed
from shared.domain.validation import (
    check_blob_event,
    check_blob_path,
    check_data_header,
    check_image_event,
    check_model_name,
    check_version,
)

ACCOUNT = "https://contosodata.blob.core.windows.net"
DIGEST = "sha256:" + "ab" * 32
META = EventMeta("id-1", "Microsoft.Storage.BlobCreated", "/subscriptions/x", "s", None)
BLOB = DataArrived(
    meta=META,
    url=f"{ACCOUNT}/training-data/spam/part-1.csv",
    account_url=ACCOUNT,
    container="training-data",
    blob_path="spam/part-1.csv",
    dataset="spam",
    etag='"0x8D4BCC2E4835CD0"',
    sequencer="0000000000000442",
    content_type="text/csv",
    size=1024,
    api="PutBlob",
)
LIMITS: dict[str, Any] = {
    "account_url": ACCOUNT,
    "container": "training-data",
    "allowed_extensions": (".csv", ".tsv", ".jsonl"),
    "allowed_content_types": ("text/csv", "application/jsonl", "text/tab-separated-values"),
    "max_bytes": 10_000,
}
IMAGE = ImagePushed(
    meta=META,
    registry="contosomlops.azurecr.io",
    repository="mlops/sklearn-serving",
    digest=DIGEST,
    tag="v1",
    media_type="application/vnd.oci.image.manifest.v1+json",
)
IMAGE_LISTS: dict[str, Any] = {
    "allowed_registries": ("contosomlops.azurecr.io",),
    "allowed_repositories": ("mlops/sklearn-serving",),
}


def blob_rejection(**changes: Any) -> str:
    with pytest.raises(Rejected) as info:
        check_blob_event(replace(BLOB, **changes), **LIMITS)
    return info.value.reason


def test_a_good_blob_passes() -> None:
    check_blob_event(BLOB, **LIMITS)
    check_blob_event(
        replace(BLOB, account_url="HTTPS://ContosoData.Blob.Core.Windows.Net/"), **LIMITS
    )
    check_blob_event(
        replace(BLOB, content_type="Text/CSV; charset=utf-8", blob_path="a/b/C.CSV"), **LIMITS
    )


def test_azurite_account_includes_its_path_segment() -> None:
    azurite = "http://127.0.0.1:10000/devstoreaccount1"
    event = replace(BLOB, account_url=azurite)
    check_blob_event(event, **{**LIMITS, "account_url": azurite})
    with pytest.raises(Rejected, match="storage account"):
        check_blob_event(
            replace(event, account_url="http://127.0.0.1:10000/otheraccount"),
            **{**LIMITS, "account_url": azurite},
        )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"account_url": "https://evil.blob.core.windows.net"}, "storage account"),
        ({"account_url": "http://contosodata.blob.core.windows.net"}, "storage account"),
        ({"container": "Training-Data"}, "container"),
        ({"container": "other"}, "container"),
        ({"blob_path": "part-1.csv"}, "dataset folder"),
        ({"blob_path": "spam/part-1.exe"}, "extension"),
        ({"blob_path": "spam/csv"}, "extension"),
        ({"blob_path": "spam/.csv"}, "extension"),
        ({"content_type": "application/x-msdownload"}, "content type"),
        ({"content_type": ""}, "content type"),
        ({"size": 0}, "empty"),
        ({"size": 10_001}, "limit of 10000"),
        ({"api": "PutBlock"}, "does not commit"),
        ({"api": "putblob"}, "does not commit"),
    ],
)
def test_blob_rejections(changes: dict[str, Any], reason: str) -> None:
    assert reason in blob_rejection(**changes)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("spam/../../etc/passwd.csv", "'..'"),
        ("../spam/a.csv", "'..'"),
        ("spam/./a.csv", "'.'"),
        ("spam/%2e%2e/a.csv", "encoded"),
        ("spam/%2E%2E/a.csv", "encoded"),
        ("spam%2fa.csv", "encoded"),
        ("spam%2Fa.csv", "encoded"),
        ("spam/a%5c..%5cb.csv", "encoded"),
        ("spam\\..\\a.csv", "backslash"),
        ("/spam/a.csv", "starts with"),
        ("spam//a.csv", "empty segment"),
        ("spam/a.csv/", "empty segment"),
        ("spam/a\x00.csv", "control"),
        ("spam/a\n.csv", "control"),
        ("spam/a\x7f.csv", "control"),
        ("spam/a\x85.csv", "control"),
        ("spam/a\u202egnp.csv", "control"),
        ("spam/a\u200b.csv", "control"),
        ("spam/a\u2028.csv", "control"),
        ("spam/" + "a" * 1100 + ".csv", "longer than 1024"),
        ("", "empty"),
    ],
)
def test_unsafe_blob_paths(path: str, reason: str) -> None:
    with pytest.raises(Rejected, match="blob path") as info:
        check_blob_path(path)
    assert reason in info.value.reason
    assert reason in blob_rejection(blob_path=path)


@pytest.mark.parametrize("path", ["spam/part 1.csv", "spam/2025/jan/données.csv", "a/..b..csv"])
def test_unusual_but_safe_paths(path: str) -> None:
    check_blob_path(path)


@pytest.mark.parametrize(
    ("head", "extension"),
    [
        (b"label,text\nspam,win money\n", ".csv"),
        (b"\xef\xbb\xbfLabel,Text\r\nham,hi\r\n", ".csv"),
        (b'"id","label","text"\n1,spam,"a, b"\n', "csv"),
        (b' "label" , text \n', ".CSV"),
        (b"label\ttext\nspam\twin\n", ".tsv"),
        (b'{"label": "spam", "text": "win"}\n{"label": "ham"', ".jsonl"),
        (b'{"Text": "hi", "LABEL": "ham"}', ".jsonl"),
        ("label,text\nham,caf\u00e9".encode()[:-1], ".csv"),  # cut inside "é"
        ("label,text\nham,\u20ac".encode()[:-2], ".csv"),  # cut inside "€"
    ],
)
def test_good_data_headers(head: bytes, extension: str) -> None:
    check_data_header(head, extension)


@pytest.mark.parametrize(
    ("head", "extension", "reason"),
    [
        (b"", ".csv", "empty"),
        (b"\n\nlabel,text\n", ".csv", "blank line"),
        (b"label;text\nspam;x\n", ".csv", "lacks column(s) label, text"),
        (b"label,body\n", ".csv", "lacks column(s) text"),
        (b"label,text\n", ".tsv", "TSV header lacks"),
        (b"label,text\xff\n", ".csv", "not valid UTF-8"),
        (b"\xff\xfel\x00a\x00", ".csv", "not valid UTF-8"),
        ("label,text\n".encode("utf-16"), ".csv", "not valid UTF-8"),
        (b"\xe2\x82label,text\n", ".csv", "not valid UTF-8"),
        (b'["label", "text"]\n', ".jsonl", "not a JSON object"),
        (b'{"label": "spam"}\n', ".jsonl", "lacks column(s) text"),
        (b'{"label": "spam", "te', ".jsonl", "not complete"),
        (b"label,text\n", ".parquet", "no header check"),
    ],
)
def test_bad_data_headers(head: bytes, extension: str, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        check_data_header(head, extension)
    assert reason in info.value.reason


def test_header_reason_bounds_what_it_echoes() -> None:
    with pytest.raises(Rejected) as info:
        check_data_header(b",".join([b"col%d" % i for i in range(500)]) + b"\n", ".csv")
    assert len(info.value.reason) < 250


def test_an_allow_listed_image_by_digest_passes() -> None:
    check_image_event(IMAGE, **IMAGE_LISTS)
    check_image_event(replace(IMAGE, registry="ContosoMLOps.azurecr.io"), **IMAGE_LISTS)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"digest": ""}, "carries no digest; images deploy by digest only"),
        ({"digest": "v1"}, "images deploy by digest only"),
        ({"digest": "sha256:" + "AB" * 32}, "64 lowercase hex"),
        ({"digest": "sha256:" + "ab" * 31}, "64 lowercase hex"),
        ({"digest": DIGEST + "\n"}, "64 lowercase hex"),
        ({"digest": "sha512:" + "ab" * 64}, "64 lowercase hex"),
        ({"registry": "evil.azurecr.io"}, "registry"),
        ({"registry": "contosomlops.azurecr.io.evil.com"}, "registry"),
        ({"repository": "mlops/other"}, "repository"),
        ({"repository": "MLOps/sklearn-serving"}, "repository"),
        ({"repository": "mlops/sklearn-serving/../x"}, "repository"),
    ],
)
def test_image_rejections(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(Rejected) as info:
        check_image_event(replace(IMAGE, **changes), **IMAGE_LISTS)
    assert reason in info.value.reason


@pytest.mark.parametrize("name", ["spam-classifier", "sklearn_regression_model", "m.v2", "A"])
def test_good_model_names(name: str) -> None:
    check_model_name(name)


@pytest.mark.parametrize(
    "name", ["", ".", "..", "-rf", "a/b", "a b", "a;b", "a\n", "m" * 256, "modèle"]
)
def test_bad_model_names(name: str) -> None:
    with pytest.raises(Rejected, match="model name"):
        check_model_name(name)


@pytest.mark.parametrize("version", ["1", "20", "9999999999"])
def test_good_versions(version: str) -> None:
    check_version(version)


@pytest.mark.parametrize(
    "version", ["", "..", "-1", "1/2", "1 ", "9" * 65, "v1\n", "latest", "zz", "01", "0", "1.2.3"]
)
def test_bad_versions(version: str) -> None:
    with pytest.raises(Rejected, match="version"):
        check_version(version)
