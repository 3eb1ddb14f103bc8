"""`mlops status` as a few small rich tables: the local report, or what the API returned.

Every cell may hold text from outside; each goes through ``neutralise`` before rich sees it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from shared.domain.text import neutralise
from shared.ops.views.metrics import METRICS

_WIDTH = 100  # when stdout is not a terminal (a log, a pipe) and COLUMNS is unset
_STYLES = {
    **dict.fromkeys(("succeeded", "completed", "passed", "accepted"), "green"),
    **dict.fromkeys(("creating", "deleting", "queued", "running", "open"), "yellow"),
    **dict.fromkeys(("planned", "deploying", "smoke_testing", "canary", "promoted"), "yellow"),
    **dict.fromkeys(("failed", "canceled", "rolled_back", "rejected"), "red"),
    "superseded": "dim",
}


def stdout_console() -> Console:
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console.width = _WIDTH
    return console


def show(console: Console, draw: Callable[[Console], None]) -> None:
    """On a terminal, draw directly; elsewhere without the padding rich adds to every table
    line, so logs and diffs carry no trailing spaces."""
    if console.is_terminal:
        draw(console)
        return
    with console.capture() as captured:
        draw(console)
    console.file.write("".join(f"{line.rstrip()}\n" for line in captured.get().splitlines()))


def render_api(
    endpoints: Sequence[Mapping[str, Any]],
    operations: Sequence[Mapping[str, Any]],
    console: Console,
) -> None:
    """What the API returned, and what it cannot tell."""
    parts = [_endpoint_part(_from_api(view)) for view in endpoints]
    parts.append(_active_part(operations))
    if not endpoints:
        parts.append(_text("The API lists no endpoint: nothing has been deployed yet."))
    note = (
        "Models, recent rollouts, pending training, jobs, events and the audit chain need "
        "the local backend: run `mlops status` without --url where the state lives."
    )
    _print_parts(console, [*parts, _text(note, style="dim")])


def render(report: Mapping[str, Any], console: Console) -> None:
    """The local report as a few small tables; ``console`` decides colour and width."""
    parts = [
        _endpoint_part(report["endpoint"]),
        _models_part(report["models"]),
        _active_part(report["active_rollouts"]),
        _rollouts_part(report["recent_rollouts"]),
        _windows_part(report["open_windows"]),
        _jobs_part(report["jobs"]),
        _parked_part(report.get("parked", []), report.get("quarantined_files", [])),
        _footer_part(report),
    ]
    _print_parts(console, [part for part in parts if part is not None])


def _print_parts(console: Console, parts: list[RenderableType]) -> None:
    for index, part in enumerate(parts):
        if index:
            console.line()
        console.print(part)


def _endpoint_part(endpoint: Mapping[str, Any]) -> RenderableType:
    deployments = endpoint["deployments"]
    if not deployments:
        return _none(f"Endpoint {endpoint['name']}: no deployments")
    split = " · ".join(f"{name} {weight}%" for name, weight in endpoint["traffic"].items())
    table = _table(f"Endpoint {endpoint['name']}", "deployment", "traffic", "model", "state")
    table.caption = _text(f"traffic: {split or 'none'}")
    table.add_column("image")
    for d in deployments:
        state = _state(d["state"]) + (_text(f" {d['error']}", style="red") if d["error"] else "")
        _row(table, d["name"], f"{d['traffic']}%", d["model"], state, _image(d["image"]))
    return table


def _models_part(models: list[Mapping[str, Any]]) -> RenderableType:
    if not models:
        return _none("Model versions: none registered")
    table = _table("Model versions", "v", "gate", "acc", "prec", "recall", "f1", "auc", "on")
    table.add_column("registered", no_wrap=True)
    table.add_column("gate reason", overflow="ellipsis", no_wrap=False)
    for m in models:
        refused = m.get("decision") == "rejected"  # the app's own gate: no tags, bad metrics
        reason = (m["decision_reason"] if refused else m["gate_reason"]) or ""
        gate = _state("rejected" if refused else m["gate"] or "-")
        scores = (_metric(m[name]) for name in METRICS)
        on, when = ",".join(m["deployments"]), _when(m["registered"])
        _row(table, m["version"], gate, *scores, on, when, _text(reason, no_wrap=True))
    return table


def _active_part(active: Sequence[Mapping[str, Any]]) -> RenderableType:
    if not active:
        return _none("Rollout in flight: none")
    table = _table("Rollout in flight", "operation", "kind", "model", "to", "phase", "since")
    table.add_column("requested by")
    for r in active:
        _row(
            table,
            r.get("operation_id") or r["id"],
            r.get("kind", ""),
            _model(r["model"]),
            r.get("colour") or r.get("deployment") or "",
            _state(r["phase"]),
            _when(r.get("phase_since")),
            _who(r.get("requested_by")),
        )
    return table


def _rollouts_part(rollouts: list[Mapping[str, Any]]) -> RenderableType | None:
    if not rollouts:
        return None
    table = _table("Recent rollouts (latest last)", "rollout", "kind", "model", "to", "phase")
    table.add_column("since", no_wrap=True)
    live = any(r.get("live") for r in rollouts)  # the canary's live numbers, when judged so
    if live:
        table.add_column("live traffic", overflow="fold")
    for r in rollouts:
        cells = (r["id"], r["kind"], r["model"], r["deployment"] or "")
        more = (_text(r.get("live") or ""),) if live else ()
        _row(table, *cells, _state(r["phase"]), _when(r["since"]), *more)
    return table


def _windows_part(windows: list[Mapping[str, Any]]) -> RenderableType:
    if not windows:
        return _none("Pending coalesced training: none")
    table = _table("Pending coalesced training", "dataset", "blobs", "opened", "due", "window")
    for w in windows:
        when = (_when(w["opened"]), _when(w["due"]))
        _row(table, w["dataset"], str(w["blobs"]), *when, w["window_id"])
    return table


def _jobs_part(jobs: list[Mapping[str, Any]]) -> RenderableType:
    if not jobs:
        return _none("Training jobs: none")
    table = _table("Training jobs (latest last)", "job", "status", "dataset", "submitted")
    for j in jobs:
        _row(table, j["name"], _state(j["status"]), j["dataset"] or "", _when(j["submitted"]))
    return table


def _parked_part(
    parked: Sequence[Mapping[str, Any]], files: Sequence[Mapping[str, Any]]
) -> RenderableType | None:
    """What the pipeline stopped on (and goes on without): an operator's to-do list."""
    if not parked and not files:
        return None
    table = _table("Parked as failed / quarantined", "what", "id", "since")
    table.add_column("reason", overflow="fold")
    for item in parked:
        what = f"{item['kind']} {item['id']}"
        _row(table, _state("failed"), what, _when(item["at"]), item["reason"])
    for f in files:
        name = f.get("path") or f["url"]
        _row(table, _state("rejected"), f"file {name}", _when(f["at"]), f["reason"])
    return table


def _footer_part(report: Mapping[str, Any]) -> RenderableType:
    dead = report["dead_letters"]
    events = _text(f"Events: {report['pending_events']} pending, ")
    events.append(f"{len(dead)} dead letter(s)", style="red" if dead else "green")
    audit = report["audit"]
    chain = _text(f"Audit: {audit['records']} records, chain ")
    if audit["chain_valid"]:
        chain.append("valid", style="green")
    else:
        chain.append(
            _text(f"BROKEN at seq {audit['first_bad_seq']}: {audit['problem']}", style="red")
        )
    return Group(events, *(_text(f"  {path}", style="red") for path in dead), chain)


def _table(title: str, *columns: str) -> Table:
    table = Table(
        title=_text(title),
        title_justify="left",
        title_style="bold",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


def _row(table: Table, *cells: str | Text) -> None:
    """Cells as Text: a dataset or a reason with brackets is data, not rich markup."""
    table.add_row(*(_text(cell) if isinstance(cell, str) else cell for cell in cells))


def _text(value: str, style: str = "", *, no_wrap: bool | None = None) -> Text:
    """Text that came from outside, shown: never markup or emoji codes (a Text is neither),
    and control, bidi and other format characters escaped (rich passes ESC through)."""
    return Text(neutralise(value), style=style, no_wrap=no_wrap)


def _none(line: str) -> Text:
    return _text(line, style="bold")


def _from_api(view: Mapping[str, Any]) -> dict[str, Any]:
    """An API endpoint view in the local report's shape, so one renderer shows both."""
    deployments = [
        {**d, "model": _model(d["model"]), "error": d.get("error", "")}
        for d in view.get("deployments", [])
    ]
    return {"name": view["name"], "traffic": view["traffic"], "deployments": deployments}


def _state(value: str | None) -> Text:
    return _text(value or "", style=_STYLES.get(value or "", ""))


def _metric(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _model(ref: Any) -> str:
    return f"{ref['name']}:{ref['version']}" if isinstance(ref, Mapping) else str(ref)


def _image(image: str | None) -> Text:
    """A digest is 71 characters: its first 12 hex digits, on their own line, tell images
    apart and keep the table inside 100 columns."""
    if not image:
        return Text("default", style="dim")
    name, at, digest = (neutralise(part) for part in image.partition("@sha256:"))
    return Text(f"{name}\n@sha256:{digest[:12]}…" if at else name, overflow="fold")


def _when(iso: str | None) -> str:
    """UTC to the second; what is not an ISO time is shown as it came."""
    try:
        moment = datetime.fromisoformat(iso or "")
    except ValueError:
        return iso or "-"
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _who(requested_by: Mapping[str, Any] | None) -> str:
    """A person's name when the API knew it; otherwise the event source's last segments."""
    if not requested_by:
        return ""
    actor = str(requested_by.get("actor", ""))
    return str(requested_by.get("name") or "/".join(actor.rsplit("/", 2)[-2:]))
