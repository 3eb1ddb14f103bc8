"""One bad file never fails every later training job of its dataset.

A dataset file is quarantined when training skipped it (the job reports the files it could
not read, and why) or when the store refuses it at submission (a local file replaced by a
symlink leading out of the container, say). Quarantine is audited (``data.quarantined``),
shown by ``mlops status`` and keeps that version of the file out of later windows; a new
upload of the same name is a new version and trains again.
"""

from __future__ import annotations

import logging
from typing import Any

from shared.domain.audit import AuditEntry
from shared.domain.events import split_blob_url
from shared.domain.values import JobInfo, Stored
from shared.ports import AuditSink, BlobStore, Clock, NotFound, StateStore
from shared.services.data_arrived import DATASET_FILE
from shared.services.isolation import QUARANTINE, is_permanent, quarantined, reason_of

log = logging.getLogger(__name__)

ACTOR = "reconciler"


def accepted_files(
    dataset: str, *, state: StateStore, blobs: BlobStore, clock: Clock, audit: AuditSink
) -> tuple[str, ...]:
    """Every accepted file of the dataset whose content is still the version accepted and
    that is not quarantined. A file the store now refuses is quarantined here, on its own:
    the window goes on with the others. Transient errors raise (the window waits)."""
    files = []
    for stored in state.list(DATASET_FILE, prefix=f"{dataset}/"):
        url, etag = str(stored.value["url"]), str(stored.value["etag"])
        if quarantined(state, stored.key, etag):
            continue
        try:
            current = blobs.properties(url)
        except NotFound:
            continue  # deleted since: nothing to train on
        except Exception as error:
            if not is_permanent(error):
                raise
            why = f"the store refuses it: {reason_of(error)}"
            quarantine(state, clock, audit, dataset, stored, why, "")
            continue
        if current.etag == etag:
            files.append(current.url)
        else:
            log.warning("%r changed since it was accepted; left out", current.url)
    return tuple(sorted(files))


def quarantine_skipped(
    dataset: str,
    job: JobInfo,
    correlation_id: str,
    *,
    state: StateStore,
    clock: Clock,
    audit: AuditSink,
) -> None:
    """Quarantine the files a finished job reports it skipped (names relative to the
    dataset folder, as the job saw them)."""
    by_name = {_relative(dataset, str(s.value["url"])): s for s in _files(state, dataset)}
    for name, reason in sorted(job.skipped_files.items()):
        stored = by_name.get(name)
        if stored is None:
            log.warning(
                "job %s skipped %r, which is no accepted file of %r", job.name, name, dataset
            )
            continue
        why = f"training skipped it: {reason}"
        quarantine(state, clock, audit, dataset, stored, why, job.name)


def quarantine(
    state: StateStore,
    clock: Clock,
    audit: AuditSink,
    dataset: str,
    stored: Stored,
    reason: str,
    job: str,
) -> None:
    """Record and audit the quarantine of this version of a dataset file (once)."""
    etag = str(stored.value["etag"])
    if quarantined(state, stored.key, etag):
        return
    url = str(stored.value["url"])
    doc: dict[str, Any] = {
        "dataset": dataset,
        "path": _blob_path(url),  # decoded, as an operator names the file
        "url": url,
        "etag": etag,
        "reason": reason[:500],
        "at": clock.now().isoformat(timespec="seconds"),
        "job": job,
    }
    previous = state.get(QUARANTINE, stored.key)
    state.put(QUARANTINE, stored.key, doc, etag=previous.etag if previous else None)
    audit.append(
        AuditEntry(
            actor=ACTOR,
            action="data.quarantined",
            target=f"{dataset}:{_blob_path(url)}",
            outcome="rejected",
            reason=doc["reason"],
            correlation_id=str(stored.value.get("event", "")),
            details={"url": url, "etag": etag, **({"job": job} if job else {})},
        )
    )


def quarantined_files(*, state: StateStore) -> list[dict[str, Any]]:
    """What ``mlops status`` lists: each quarantined file version still current."""
    current = {s.key: s.value.get("etag") for s in state.list(DATASET_FILE)}
    return [
        dict(s.value) for s in state.list(QUARANTINE) if current.get(s.key) == s.value.get("etag")
    ]


def _files(state: StateStore, dataset: str) -> list[Stored]:
    return list(state.list(DATASET_FILE, prefix=f"{dataset}/"))


def _blob_path(url: str) -> str:
    try:
        return split_blob_url(url)[2]
    except ValueError:
        return url


def _relative(dataset: str, url: str) -> str:
    """The file's path inside its dataset folder, decoded: what the job's mount shows."""
    return _blob_path(url).removeprefix(f"{dataset}/")
