"""The live numbers a canary decision used, as the audit record keeps them.

The rollout's canary step writes ``details.live`` (shared/domain/canary.py,
``Judgement.details``): the verdict, both deployments' samples and the margins. `mlops status`,
`mlops explain` and the HTML report show the same one-line summary of it. Audit details may
come from an exported trail: every field is read defensively and shown as text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.domain.audit import AuditRecord


def live_details(details: Mapping[str, Any]) -> Mapping[str, Any] | None:
    live = details.get("live")
    return live if isinstance(live, Mapping) else None


def summary(live: Mapping[str, Any] | None) -> str:
    """``roll_back: canary 6/44 5xx (13.6%), p95 31 ms vs serving 2/400 5xx (0.5%), p95 30
    ms``; "" when the decision used no live numbers."""
    if not live:
        return ""
    canary, serving = _sample(live.get("canary")), _sample(live.get("serving"))
    return f"{live.get('verdict', '?')}: canary {canary} vs serving {serving}"


def by_rollout(records: Iterable[AuditRecord]) -> dict[str, Mapping[str, Any]]:
    """Each rollout's last live check, by rollout id."""
    found: dict[str, Mapping[str, Any]] = {}
    for record in records:
        live = live_details(record.details)
        rid = record.details.get("rollout_id")
        if live is not None and isinstance(rid, str):
            found[rid] = live
    return found


def _sample(sample: object) -> str:
    if not isinstance(sample, Mapping):
        return "?"
    requests, errors = sample.get("requests", "?"), sample.get("errors", "?")
    rate = sample.get("error_rate")
    share = f" ({rate:.1%})" if isinstance(rate, int | float) else ""
    p95 = sample.get("p95_ms")
    latency = f"p95 {p95:.0f} ms" if isinstance(p95, int | float) else "p95 n/a"
    return f"{errors}/{requests} 5xx{share}, {latency}"
