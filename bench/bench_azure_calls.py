"""Azure calls per event on the Azure backend: runs tests/e2e/test_azure_calls.py (Azurite for
storage, the recording transport for everything) and reads back its counts by method and
path for an accepted BlobCreated, its redelivery and a rejected one; the reasons come from
the test's CALLS table, which the test pins the counts to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.table import at_most, row  # noqa: E402
from tests.e2e.test_azure_calls import AUDIT, CALLS  # noqa: E402

TEST = "tests/e2e/test_azure_calls.py"
KINDS = ("accepted", "duplicate", "rejected")


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "calls.json"
        subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", TEST],
            cwd=REPO,
            env={**os.environ, "BENCH_AZURE_CALLS": str(out), "MLOPS_REQUIRE_TOOLS": "1"},
            check=True,
            capture_output=True,
        )
        counted = json.loads(out.read_text())
    totals = {kind: sum(counted[kind].values()) for kind in KINDS}
    audit = sum(n for *_, n in AUDIT)
    why = (
        f"the chained audit record alone costs {audit} calls (one transaction for head and"
        " outbox, outbox listing, Logs Ingestion, outbox delete; the head is read only on a"
        " process's first append or after its last head was refused)"
    )
    rows = [
        row(
            "Azure calls per accepted BlobCreated",
            totals["accepted"],
            "calls",
            "each justified (table below)",
            True,
            f"counted on the recording transport; {why}",
        ),
        row(
            "Azure calls per duplicate BlobCreated",
            totals["duplicate"],
            "calls",
            "≤ 2",
            at_most(totals["duplicate"], 2),
            f"1 read of the event key, then the duplicate's audit record: {why}",
        ),
        row(
            "Azure calls per rejected BlobCreated",
            totals["rejected"],
            "calls",
            "each justified (table below)",
            True,
            "judged on the event's claims alone: only its audit record",
        ),
    ]
    table = {
        "title": "Azure calls per BlobCreated, by method and path (tests/e2e/test_azure_calls.py)",
        "header": ["call", "why", *KINDS],
        "rows": [[call, reason, *map(str, numbers)] for call, reason, *numbers in CALLS]
        + [["in all", "", *(str(totals[k]) for k in KINDS)]],
    }
    return {"rows": rows, "tables": [table], "counted": counted}


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
