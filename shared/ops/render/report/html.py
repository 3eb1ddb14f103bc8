"""The report page: a summary header, then each chart with a compact table of its numbers.

One HTML file with inline CSS and SVG, no script and nothing fetched: the CSP below forbids
it anyway. Every string from the trail is escaped (``svg.esc``) where it is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import shared.ops.render.report.charts as charts
from shared.domain.audit import OUTCOMES, ChainReport
from shared.ops.render.report.style import CSS
from shared.ops.render.report.svg import clip, duration, esc
from shared.ops.views.report import (
    DECISIONS,
    IN_PROGRESS,
    TABLE_METRICS,
    ReportData,
    RolloutLane,
)

MAX_POINTS = 120  # versions in the metrics chart
MAX_TILES = 60  # versions in the gate chart
MAX_LANES = 20  # rollouts in the timeline
TABLE_ROWS = 25
CSP = (  # nothing may load; inline CSS is the only thing the page needs
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)
NO_RECORDS = "No audit records yet"
NONE_IN_PERIOD = "No audit records in this period"


def page(
    data: ReportData,
    status: Mapping[str, Any] | None,
    chain: ChainReport | None,
    generated_at: datetime,
) -> str:
    endpoint = _endpoint(status)
    title = f"MLOps report · {endpoint.get('name') or 'local backend'}"
    body = [_header(title, data, status, chain, generated_at)]
    body += _sections(data) if data.records else [_empty(chain)]
    body.append(
        "<footer>Self-contained report: no scripts, nothing loaded from the network. "
        "Hover a mark for its details; every number is also in the tables.</footer>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _header(
    title: str,
    data: ReportData,
    status: Mapping[str, Any] | None,
    chain: ChainReport | None,
    generated_at: datetime,
) -> str:
    span = ""
    if data.first and data.last:
        span = f"{data.first:%Y-%m-%d %H:%M:%S} to {data.last:%Y-%m-%d %H:%M:%S} UTC"
    decisions = {d: sum(v.decision == d for v in data.versions) for d in DECISIONS}
    endings = {e: sum(lane.ending == e for lane in data.rollouts) for e in charts.ENDING_STYLE}
    tiles = [
        _tile("Audit records", f"{data.records:,}", span or "none in this report"),
        _chain_tile(chain),
        _serving_tile(status),
        _tile(
            "Model versions",
            str(len(data.versions)),
            ", ".join(f"{n} {d}" for d, n in decisions.items()),
        ),
        _tile(
            "Rollouts",
            str(len(data.rollouts)),
            ", ".join(f"{n} {e.replace('_', ' ')}" for e, n in endings.items() if n) or "none",
            "warn" if endings.get("rolled_back") else "",
        ),
    ]
    sources = "the audit trail" + ("" if status is None else " and the local backend's status")
    return (
        f"<header><h1>{esc(title)}</h1>"
        f'<p class="sub">Generated {generated_at:%Y-%m-%d %H:%M:%S} UTC from {sources}.</p>'
        f'<div class="tiles">{"".join(tiles)}</div>{_serving_table(status)}</header>'
    )


def _tile(label: str, value: str, note: str, tone: str = "") -> str:
    cls = f"tile {tone}".strip()
    return (
        f'<div class="{cls}"><div class="label">{esc(label)}</div>'
        f'<div class="value">{esc(value)}</div><div class="note">{esc(note)}</div></div>'
    )


def _chain_tile(chain: ChainReport | None) -> str:
    if chain is None:
        return _tile("Hash chain", "not verified", "no chain report given")
    if chain.valid:
        return _tile("Hash chain", "valid", f"{chain.records:,} records verified", "good")
    if chain.first_bad_seq is None:  # nothing wrong found, but no key to check the hashes
        return _tile("Hash chain", "not verified", chain.problem, "bad")
    return _tile("Hash chain", f"BROKEN at seq {chain.first_bad_seq}", chain.problem, "bad")


def _endpoint(status: Mapping[str, Any] | None) -> Mapping[str, Any]:
    endpoint = (status or {}).get("endpoint")
    return endpoint if isinstance(endpoint, Mapping) else {}


def _serving_tile(status: Mapping[str, Any] | None) -> str:
    if status is None:
        return _tile("Serving now", "unknown", "status unavailable")
    traffic = _endpoint(status).get("traffic") or {}
    if not traffic:
        return _tile("Serving now", "nothing", "no deployment takes traffic")
    models = {d.get("name"): d.get("model") for d in _deployments(status)}
    split = " / ".join(f"{name} {share} %" for name, share in traffic.items())
    serving = ", ".join(str(models.get(name, "?")) for name, share in traffic.items() if share)
    return _tile("Serving now", split, serving)


def _deployments(status: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    found = _endpoint(status).get("deployments") or []
    return [d for d in found if isinstance(d, Mapping)]


def _serving_table(status: Mapping[str, Any] | None) -> str:
    deployments = _deployments(status)
    if not deployments:
        return ""
    traffic = _endpoint(status).get("traffic") or {}
    rows = [
        [
            d.get("name", ""),
            d.get("model", ""),
            f"{traffic.get(d.get('name'), 0)} %",
            d.get("state", ""),
            d.get("image") or "default image",
        ]
        for d in deployments
    ]
    extra = _status_note(status or {})
    name = _endpoint(status).get("name", "")
    caption = f"Deployments on endpoint {name}" + (f" · {extra}" if extra else "")
    head = ["deployment", "model", "traffic", "state", "image"]
    return _table(caption, head, rows, ("key", "key", "num", "key", "long"))


def _status_note(status: Mapping[str, Any]) -> str:
    notes = [
        f"{len(status.get('active_rollouts') or [])} rollout(s) in flight",
        f"{status.get('pending_events', 0)} pending event(s)",
        f"{len(status.get('dead_letters') or [])} dead letter(s)",
    ]
    return ", ".join(notes)


def _empty(chain: ChainReport | None) -> str:
    if chain is not None and chain.records:  # a --since that left nothing out of a full trail
        return (
            f'<section class="empty"><h2>{NONE_IN_PERIOD}</h2>'
            f"<p>The audit trail holds {chain.records:,} records, none in this period. "
            "Widen <code>--since</code>, or leave it out for the whole trail.</p></section>"
        )
    return (
        f'<section class="empty"><h2>{NO_RECORDS}</h2>'
        "<p>The audit trail is empty, so there is nothing to chart. Run "
        "<code>mlops demo</code> (or upload training data to a running host), then "
        "<code>mlops report</code> again.</p></section>"
    )


def _sections(data: ReportData) -> list[str]:
    return [
        _metrics_section(data),
        _gates_section(data),
        _rollouts_section(data),
        _outcomes_section(data),
    ]


def _section(key: str, heading: str, intro: str, chart: str, table: str, missing: str) -> str:
    figure = f"<figure>{chart}</figure>" if chart else f'<p class="none">{missing}</p>'
    return (
        f'<section id="{key}"><h2>{esc(heading)}</h2><p class="intro">{intro}</p>'
        f"{figure}{table if chart else ''}</section>"
    )


def _metrics_section(data: ReportData) -> str:
    points = data.versions[-MAX_POINTS:]
    rows = [
        [v.label, f"{v.time:%Y-%m-%d %H:%M:%S}"]
        + [f"{v.metrics[m]:.4f}" if m in v.metrics else "–" for m in TABLE_METRICS]
        + [v.decision]
        for v in data.versions[-TABLE_ROWS:]
    ]
    head = ["version", "registered (UTC)", *TABLE_METRICS, "gate"]
    intro = "Held-out metrics the training job tagged on each version, by registration time."
    intro += _shown(len(points), len(data.versions), "versions")
    kinds = ("key", "key", *("num" for _ in TABLE_METRICS), "key")
    table = _table(
        _caption("Metrics", len(rows), len(data.versions), "versions"), head, rows, kinds
    )
    return _section(
        "metrics", "Model metrics by version", intro, charts.metrics_chart(points), table,
        "No model version with metrics in this period.",
    )  # fmt: skip


def _gates_section(data: ReportData) -> str:
    tiles = data.versions[-MAX_TILES:]
    rows = [
        [v.label, f"{v.time:%Y-%m-%d %H:%M:%S}", v.decision, clip(v.reason, 200)]
        for v in data.versions[-TABLE_ROWS:]
    ]
    intro = (
        "<b>P</b>assed: deployed; <b>F</b>ailed: the training job's gate said no; "
        "<b>R</b>ejected: refused on arrival (no gate tag, below a floor, not this model)."
    )
    intro += _shown(len(tiles), len(data.versions), "versions")
    head = ["version", "registered (UTC)", "decision", "reason"]
    kinds = ("key", "key", "key", "")
    caption = _caption("Gate decisions", len(rows), len(data.versions), "versions")
    table = _table(caption, head, rows, kinds)
    return _section(
        "gates", "Gate decisions", intro, charts.gate_chart(tiles), table,
        "No model version was registered in this period.",
    )  # fmt: skip


def _rollouts_section(data: ReportData) -> str:
    lanes = data.rollouts[-MAX_LANES:]
    intro = "Each lane is one rollout: its phases as audited, ending in completed or rolled back."
    intro += _shown(len(lanes), len(data.rollouts), "rollouts")
    head = ["rollout", "model", "kind", "requested by", "started (UTC)", "phases", "ending", "took"]
    head.append("live traffic at the canary decision")
    rows = [_rollout_row(lane) for lane in lanes[-TABLE_ROWS:]]
    kinds = ("key", "key", "key", "", "key", "", "", "num", "")
    caption = _caption("Rollouts", len(rows), len(data.rollouts), "rollouts")
    table = _table(caption, head, rows, kinds)
    return _section(
        "rollouts", "Rollout timelines", intro, charts.rollout_chart(lanes), table,
        "No rollout in this period.",
    )  # fmt: skip


def _rollout_row(lane: RolloutLane) -> list[str]:
    phases = " → ".join(f"{s.phase} {duration(end - start)}" for s, start, end in lane.segments())
    ending = lane.ending if lane.ending == IN_PROGRESS else f"{lane.ending}: {lane.ending_reason}"
    return [
        lane.rollout_id,
        lane.model,
        lane.kind,
        lane.requested_by,
        f"{lane.start:%Y-%m-%d %H:%M:%S}",
        phases or "–",
        clip(ending, 160),
        duration(lane.seconds),
        clip(lane.live, 160) or "–",
    ]


def _outcomes_section(data: ReportData) -> str:
    outcomes = [o for o in OUTCOMES if any(o in c for c in data.outcomes.values())]
    rows = [
        [action, *(str(counts.get(o, 0)) for o in outcomes), str(sum(counts.values()))]
        for action, counts in data.outcomes.items()
    ]
    totals = [sum(c.get(o, 0) for c in data.outcomes.values()) for o in outcomes]
    rows.append(["all actions", *map(str, totals), str(data.records)])
    head = ["action", *(o.replace("_", " ") for o in outcomes), "total"]
    kinds = ("key", *("num" for _ in head[1:]))
    table = _table(f"Audit records by action and outcome ({data.records:,})", head, rows, kinds)
    intro = "How each kind of audited decision ended, counted over every record in this report."
    return _section(
        "outcomes", "Audit outcomes by action", intro, charts.outcome_chart(data.outcomes), table,
        "No audit records.",
    )  # fmt: skip


def _shown(shown: int, total: int, what: str) -> str:
    return f" The chart shows the latest {shown} of {total:,} {what}." if shown < total else ""


def _caption(topic: str, shown: int, total: int, what: str) -> str:
    count = f"latest {shown} of {total:,}" if shown < total else f"all {total:,}"
    return f"{topic}: {count} {what}"


def _table(
    caption: str, head: Sequence[str], rows: Sequence[Sequence[object]], kinds: Sequence[str]
) -> str:
    """A compact table. ``kinds`` gives each column's class: "num" aligns right, "key" never
    wraps (ids, versions, times), "long" may break anywhere (digests), "" wraps at words."""
    cls = [f' class="{k}"' if k else "" for k in kinds]
    cols = "".join(f"<th{c}>{esc(h)}</th>" for c, h in zip(cls, head, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{c}>{esc(cell)}</td>" for c, cell in zip(cls, row, strict=True))
        + "</tr>"
        for row in rows
    )  # fmt: skip
    return (
        f"<table><caption>{esc(caption)}</caption><thead><tr>{cols}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
