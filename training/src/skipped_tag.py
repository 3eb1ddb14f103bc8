"""The files a job skipped, as one tag on its MLflow run: how the app learns them on Azure ML.

The app cannot read a job's outputs back on Azure ML, but it reads the job's run (its MLflow
REST call, ``shared/adapters/azure/ml_runs.py``), so train.py puts ``validation.json``'s
``skipped_files`` on the run as the tag ``skipped_files``: base64url (``[A-Za-z0-9_=-]``) of
the JSON object ``{"files": {path: reason}, "omitted": n}``, paths relative to the data folder
as training saw them, each reason cut to REASON_CHARS characters.

Bound: the value is at most MAX_TAG_CHARS characters. MLflow's REST API guarantees tag values
of 5,000 bytes on every backend, and MLflow 2.16's client cuts a longer value to 5,000
characters without failing (``MLFLOW_TRUNCATE_LONG_VALUES``), which would leave nothing
decodable. Past the bound, files are kept in name order while the value fits and the rest are
counted in ``omitted``: they are still skipped by this job, and the dataset's next job names
them, since the app quarantines the ones named here and they no longer reach it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

SKIPPED_FILES_TAG = "skipped_files"
MAX_TAG_CHARS = 4_000
REASON_CHARS = 200


def encode(skipped: Mapping[str, str]) -> str:
    """The tag's value for ``skipped`` (path -> why), within MAX_TAG_CHARS."""
    kept: dict[str, str] = {}
    value = _encoded(kept, len(skipped))
    for name in sorted(skipped):
        trial = {**kept, name: str(skipped[name])[:REASON_CHARS]}
        candidate = _encoded(trial, len(skipped) - len(trial))
        if len(candidate) <= MAX_TAG_CHARS:
            kept, value = trial, candidate
    return value


def _encoded(files: Mapping[str, str], omitted: int) -> str:
    # UTF-8 rather than \u escapes: a non-ASCII name costs its bytes, not six per character.
    # A name that is not UTF-8 (a surrogate-escaped byte) is written escaped, never fails.
    text = json.dumps({"files": files, "omitted": omitted}, ensure_ascii=False, sort_keys=True)
    raw = text.encode("utf-8", "backslashreplace")
    return base64.urlsafe_b64encode(raw).decode("ascii")
