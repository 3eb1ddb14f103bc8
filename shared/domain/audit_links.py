"""The ids through which an audit record joins other records' stories (`mlops explain`).

An upload's records do not share one correlation id: training carries the coalescing
window's first event id, the model's records the model event's id. The links are in the
records themselves: ``details.window_id`` and ``details.rollout_id``, the model's
``tags.window_id`` / ``tags.job_name``, and a training record's target (the job name). One
definition, so the local trail's index and the in-memory story agree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def links(action: str, target: str, details: Mapping[str, Any]) -> set[str]:
    found = {str(details[k]) for k in ("window_id", "rollout_id") if details.get(k)}
    tags = details.get("tags")
    if isinstance(tags, Mapping):
        found |= {str(tags[k]) for k in ("window_id", "job_name") if tags.get(k)}
    if action.startswith("training."):
        found.add(target)  # the job name
    return found
