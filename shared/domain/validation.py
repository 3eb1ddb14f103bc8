"""Pure checks on untrusted events and data; each failure raises ``Rejected`` with a reason."""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Sequence
from urllib.parse import urlsplit

from shared.domain.errors import Rejected
from shared.domain.events import DataArrived, ImagePushed, clip, invisible

MAX_BLOB_PATH = 1024  # characters, and UTF-8 bytes: Azure's limit, and what a mount can open
MAX_SEGMENTS = 254  # Azure: "the number of path segments ... cannot exceed 254"
# NAME_MAX (255 bytes) of the Linux file systems a job's mount and training read through,
# less room for the local blob store's "<name>.json" sidecar, so every backend can hold it.
MAX_SEGMENT_BYTES = 250
BLOB_APIS = frozenset({"PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose"})
REQUIRED_COLUMNS = ("label", "text")

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Still-encoded "/", "\" or "." after the one decoding step: a second decoder would see them.
_ENCODED_SEPARATOR = re.compile(r"%(2f|5c|2e)", re.IGNORECASE)
# The first character is alphanumeric so a name is never ".", ".." or an option like "-x".
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
# A registry version number, one spelling each ("01" is not "1"): MLflow numbers a model's
# versions 1, 2, 3, ...; "latest" is Azure ML's label (azureml:NAME@latest), never a version.
_VERSION = re.compile(r"[1-9][0-9]{0,9}")
# Controls (C0, DEL, C1), format characters (bidi overrides, zero-width) and line separators.
_DELIMITERS = {".csv": ",", ".tsv": "\t"}


def check_blob_event(
    event: DataArrived,
    *,
    account_url: str,
    container: str,
    allowed_extensions: Sequence[str],
    allowed_content_types: Sequence[str],
    max_bytes: int,
) -> None:
    """The blob comes from the trusted container, sits in a dataset folder and looks like data."""
    if _origin(event.account_url) != _origin(account_url):
        raise Rejected(
            f"storage account {clip(event.account_url)} is not allow-listed", field="data.url"
        )
    if event.container != container:
        raise Rejected(f"container {clip(event.container)} is not allow-listed", field="data.url")
    check_blob_path(event.blob_path)
    if event.blob_path.count("/") < 1:
        raise Rejected("blob must sit inside a dataset folder (DATASET/FILE)", field="data.url")
    extension = _extension(event.blob_path)
    if extension not in {item.lower() for item in allowed_extensions}:
        raise Rejected(f"file extension {clip(extension)} is not allowed", field="data.url")
    media_type = event.content_type.split(";", 1)[0].strip().lower()
    if media_type not in {item.lower() for item in allowed_content_types}:
        raise Rejected(f"content type {clip(media_type)} is not allowed", field="data.contentType")
    if event.size <= 0:
        raise Rejected("blob is empty", field="data.contentLength")
    if event.size > max_bytes:
        raise Rejected(
            f"blob is {event.size} bytes, more than the limit of {max_bytes}",
            field="data.contentLength",
        )
    if event.api not in BLOB_APIS:
        raise Rejected(f"blob API {clip(event.api)} does not commit a blob", field="data.api")


def check_blob_path(path: str) -> None:
    """A decoded blob path that no file system, URL or shell layer can reinterpret, and that
    every later step takes as it is: the job's name and inputs, its mount and train.py's
    file reading (tests/hostile/test_name_rules.py holds them to it)."""
    if not path:
        raise Rejected("blob path is empty", field="data.url")
    if any(map(_unusable, path)):
        raise Rejected("blob path contains a surrogate or private-use code point", field="data.url")
    if len(path) > MAX_BLOB_PATH or len(path.encode("utf-8")) > MAX_BLOB_PATH:
        raise Rejected(
            f"blob path is longer than {MAX_BLOB_PATH} characters or UTF-8 bytes",
            field="data.url",
        )
    if any(map(invisible, path)):
        raise Rejected("blob path contains control or format characters", field="data.url")
    if "\\" in path:
        raise Rejected("blob path contains a backslash", field="data.url")
    if _ENCODED_SEPARATOR.search(path):
        raise Rejected("blob path contains an encoded '/', '\\' or '.'", field="data.url")
    if path.startswith("/"):
        raise Rejected("blob path starts with '/'", field="data.url")
    segments = path.split("/")
    if "" in segments:
        raise Rejected("blob path has an empty segment", field="data.url")
    if any(segment in (".", "..") for segment in segments):
        raise Rejected("blob path contains a '.' or '..' segment", field="data.url")
    if len(segments) > MAX_SEGMENTS:
        raise Rejected(f"blob path has more than {MAX_SEGMENTS} segments", field="data.url")
    if any(len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES for segment in segments):
        raise Rejected(
            f"a blob path segment is longer than {MAX_SEGMENT_BYTES} UTF-8 bytes",
            field="data.url",
        )
    if any(segment.endswith(".") for segment in segments):
        raise Rejected("a blob path segment ends with '.'", field="data.url")


def _unusable(char: str) -> bool:
    """Lone surrogates cannot be encoded (as UTF-8, hence as a file name or a URL); Azure
    refuses private-use code points such as U+E000 in blob names."""
    return unicodedata.category(char) in ("Cs", "Co")


def check_data_header(head: bytes, extension: str) -> None:
    """The first bytes of a data file: UTF-8 with ``label`` and ``text`` columns."""
    ext = extension.lower() if extension.startswith(".") else f".{extension.lower()}"
    text = _decode_head(head)
    first_line = text.split("\n", 1)[0].rstrip("\r")
    if not first_line.strip():
        raise Rejected("data file is empty or starts with a blank line", field="data")
    if ext in _DELIMITERS:
        reader = csv.reader([first_line], delimiter=_DELIMITERS[ext], skipinitialspace=True)
        names = {column.strip().strip('"').strip().lower() for column in next(reader, [])}
        kind = ext[1:].upper()
    elif ext == ".jsonl":
        names = _jsonl_keys(first_line)
        kind = "JSONL"
    else:
        raise Rejected(f"no header check for extension {clip(ext)}", field="data")
    missing = [column for column in REQUIRED_COLUMNS if column not in names]
    if missing:
        found = ", ".join(sorted(names))
        raise Rejected(
            f"{kind} header lacks column(s) {', '.join(missing)}; found {clip(found)}",
            field="data",
        )


def _decode_head(head: bytes) -> str:
    if not head:
        raise Rejected("data file is empty", field="data")
    body = head.removeprefix(b"\xef\xbb\xbf")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A read of the first N bytes may cut a multi-byte character; that is not an error.
        if exc.reason == "unexpected end of data" and exc.end == len(body):
            return body[: exc.start].decode("utf-8")
        raise Rejected(f"data is not valid UTF-8 (byte {exc.start})", field="data") from None


def _jsonl_keys(line: str) -> set[str]:
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise Rejected("first JSONL line is not complete, valid JSON", field="data") from None
    if not isinstance(record, dict):
        raise Rejected("first JSONL line is not a JSON object", field="data")
    return {str(key).lower() for key in record}


def check_image_event(
    event: ImagePushed,
    *,
    allowed_registries: Sequence[str],
    allowed_repositories: Sequence[str],
) -> None:
    """An allow-listed registry and repository, pushed with an immutable digest."""
    if not event.digest:
        raise Rejected(
            f"push of tag {clip(event.tag)} carries no digest; images deploy by digest only",
            field="data.target.digest",
        )
    if not _DIGEST.fullmatch(event.digest):
        raise Rejected(
            f"digest {clip(event.digest)} is not sha256:<64 lowercase hex>; "
            "images deploy by digest only",
            field="data.target.digest",
        )
    if event.registry.lower() not in {item.lower() for item in allowed_registries}:
        raise Rejected(
            f"registry {clip(event.registry)} is not allow-listed", field="data.request.host"
        )
    if event.repository not in allowed_repositories:
        raise Rejected(
            f"repository {clip(event.repository)} is not allow-listed",
            field="data.target.repository",
        )


def check_model_name(name: str) -> None:
    if not _MODEL_NAME.fullmatch(name):
        raise Rejected(
            f"model name {clip(name)} must be 1-255 of [A-Za-z0-9._-], starting alphanumeric",
            field="model_name",
        )


def check_version(version: str) -> None:
    if not _VERSION.fullmatch(version):
        raise Rejected(
            f"version {clip(version)} must be a version number: 1 to 10 digits, no leading 0",
            field="model_version",
        )


def _origin(url: str) -> str:
    """scheme://host[:port][/account] with the case-insensitive parts lowercased."""
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _extension(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    return name[name.rfind(".") :].lower() if "." in name.strip(".") else ""
