"""Event handling throughput in process, through the registered function, on the local
backend (SQLite state and audit, folder blob store): parse, validate, dedupe, state write,
audit. Also checks that a 1,000-event burst for one prefix closes into exactly one job."""

from __future__ import annotations

import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.table import at_least, row  # noqa: E402
from shared import bootstrap  # noqa: E402
from shared.adapters.local import backend as local_backend  # noqa: E402
from shared.adapters.local import system_events as topics  # noqa: E402
from shared.adapters.local.backend import local_topic  # noqa: E402
from shared.devhost import delivery  # noqa: E402
from shared.services.data_arrived import WINDOW  # noqa: E402
from shared.settings import Settings  # noqa: E402

EVENTS = 1000
DATA = b"label\ttext\nham\tsee you at noon\nspam\tWIN a prize now, call 09061701461\n"


def main() -> dict[str, Any]:
    logging.disable(logging.INFO)  # measure the work, not the console
    with tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), coalesce_quiet_seconds=0)
        backend = local_backend.build(settings)
        bootstrap.install(backend.deps)
        try:
            topic = local_topic(settings, "Microsoft.Storage/storageAccounts")
            events = [
                topics.blob_created(
                    topic,
                    backend.blobs.upload(
                        f"spam/burst/part-{i:04d}.tsv", DATA, "text/tab-separated-values"
                    ),
                )
                for i in range(EVENTS)
            ]
            delivery.invoke("on_blob_created", events[0])  # warm up: open connections
            started = time.perf_counter()
            for event in events[1:]:
                delivery.invoke("on_blob_created", event)
            elapsed = time.perf_counter() - started
            redelivered = time.perf_counter()
            for event in events[:200]:
                delivery.invoke("on_blob_created", event)
            duplicate_rate = 200 / (time.perf_counter() - redelivered)
            window = backend.deps.state.get(WINDOW, "spam")
            rate = round((EVENTS - 1) / elapsed)
            detail = (
                "through on_blob_created: parse, validate, the blob's properties read and"
                " compared with the claims, dedupe, SQLite state write, keyed audit record;"
                f" duplicates {round(duplicate_rate):,}/s"
            )
            blobs = window.value["blobs"] if window else 0
            return {
                "rows": [
                    row(
                        "BlobCreated events/s in process",
                        rate,
                        "/s",
                        "≥ 1,000/s",
                        at_least(rate, 1000),
                        detail,
                    ),
                    row(
                        "1,000 BlobCreated for one prefix in one burst",
                        blobs,
                        "blobs in 1 window",
                        "one window, one job",
                        blobs == EVENTS,
                        "the window the reconciler submits as one job",
                    ),
                ],
                "events": EVENTS - 1,
                "seconds": round(elapsed, 3),
                "events_per_second": round((EVENTS - 1) / elapsed),
                "duplicates_per_second": round(duplicate_rate),
                "window_blobs": window.value["blobs"] if window else 0,
                "audit_records": backend.audit.verify().records,
            }
        finally:
            bootstrap.install(None)
            backend.close()


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
