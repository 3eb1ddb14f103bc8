"""The report's four charts as inline SVG: model metrics over time, gate decisions per
version, rollout timelines and audit outcomes by action. Each returns "" when it has
nothing to draw; the page then says so in words."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime

import shared.ops.render.report.svg as svg
from shared.ops.render.report.svg import Frame, Linear
from shared.ops.views.report import DECISIONS, METRICS, ModelVersionPoint, RolloutLane

WIDTH = 960
METRIC_STYLE = {  # colour and marker shape, so the lines differ in more than colour
    "accuracy": (svg.BLUE, "circle"),
    "precision": (svg.GREEN, "square"),
    "recall": (svg.PURPLE, "triangle"),
    "f1": (svg.ORANGE, "diamond"),
}
GATE_COLOURS = {"passed": svg.GREEN, "failed": svg.ORANGE, "rejected": svg.VERMILLION}
PHASE_COLOURS = {
    "planned": svg.LIGHT_GREY,
    "deploying": svg.SKY,
    "smoke_testing": svg.BLUE,
    "canary": svg.ORANGE,
    "promoted": svg.GREEN,
}
ENDING_STYLE = {
    "completed": (svg.GREEN, "circle"),
    "rolled_back": (svg.VERMILLION, "cross"),
    "superseded": (svg.GREY, "diamond"),
    "failed": (svg.ORANGE, "cross"),  # parked on a permanent error
    "in progress": (svg.BLUE, "triangle"),
}
OUTCOME_COLOURS = {
    "accepted": svg.BLUE,
    "succeeded": svg.GREEN,
    "duplicate": svg.LIGHT_GREY,
    "rejected": svg.VERMILLION,
    "failed": svg.ORANGE,
    "rolled_back": svg.PURPLE,
}


def metrics_chart(points: Sequence[ModelVersionPoint]) -> str:
    """One line per metric through the versions, by registration time; hollow markers are
    versions the gate did not let through."""
    points = [p for p in points if any(m in p.metrics for m in METRICS)]
    if not points:
        return ""
    frame = Frame(64, 54, WIDTH - 64 - 28, 256)
    x, ticks, fmt = _time_scale([p.time.timestamp() for p in points], frame)
    values = [v for p in points for m, v in p.metrics.items() if m in METRICS]
    lo = max(0.0, min(math.floor((min(values) - 0.02) * 20) / 20, 0.9))
    y = Linear(lo, 1.0, frame.bottom, frame.top)
    parts = [
        svg.y_axis(frame, y, svg.nice_ticks(lo, 1.0, 5), ".2f", "score (0–1)"),
        svg.x_axis(frame, x, ticks, [svg.utc_label(t, fmt) for t in ticks], _time_caption(points)),
    ]
    radius = 5.0 if len(points) <= 40 else 3.5  # dense series: smaller marks, less overlap
    for metric, (colour, shape) in METRIC_STYLE.items():
        series = [(p, p.metrics[metric]) for p in points if metric in p.metrics]
        xy = [(x(p.time.timestamp()), y(min(max(v, lo), 1.0))) for p, v in series]
        parts.append(svg.polyline(xy, colour))
        for (p, v), (px, py) in zip(series, xy, strict=True):
            tip = f"{p.label} · {metric} {v:.4f} · gate {p.decision} · {_utc(p.time)}"
            hollow = p.decision != "passed"
            parts.append(svg.marker(shape, px, py, colour, tip, hollow, radius))
    if len(points) <= 24:  # name the versions while they still fit
        parts += [_version_label(p, x, y) for p in points]
    legend = [(m, c, s) for m, (c, s) in METRIC_STYLE.items()]
    parts.append(svg.legend(legend, frame.left + 6, 18))
    parts.append(svg.text(frame.right, 22, "hollow: the gate did not pass", "end", 11))
    return svg.svg(WIDTH, 360, "model metrics per registered version", parts, "metrics")


def _version_label(p: ModelVersionPoint, x: Linear, y: Linear) -> str:
    top = max(v for m, v in p.metrics.items() if m in METRICS)
    return svg.text(x(p.time.timestamp()), y(min(top, 1.0)) - 10, svg.clip(p.label, 14), "middle")


def gate_chart(points: Sequence[ModelVersionPoint]) -> str:
    """One tile per version in registration order: colour and letter give the decision."""
    if not points:
        return ""
    frame = Frame(64, 44, WIDTH - 64 - 28, 40)
    step = min(frame.width / len(points), 56.0)
    rotate = step < 34
    parts = [svg.legend(_gate_legend(points), frame.left + 6, 18)]
    for i, p in enumerate(points):
        cx = frame.left + step * (i + 0.5)
        size = min(step - 4, 36.0)
        tip = f"{p.label}: {p.decision} · {p.reason}"
        colour = GATE_COLOURS[p.decision]
        parts.append(svg.rect(cx - size / 2, frame.top, size, size, colour, tip, p.decision))
        if size >= 14:
            letter = p.decision[0].upper()
            baseline = frame.top + size / 2 + 5
            parts.append(svg.text(cx, baseline, letter, "middle", 13, "#fff", "bold"))
        parts.append(_tile_label(p.label, cx, frame.top + 40 + 16, rotate))
    height = 166 if rotate else 132
    parts.append(svg.text(frame.left, height - 6, "model versions, oldest first", size=12))
    return svg.svg(WIDTH, height, "gate decision per model version", parts, "gates")


def _gate_legend(points: Sequence[ModelVersionPoint]) -> list[tuple[str, str, str]]:
    counts = {d: sum(p.decision == d for p in points) for d in DECISIONS}
    return [(f"{d} ({counts[d]})", GATE_COLOURS[d], "bar") for d in DECISIONS]


def _tile_label(label: str, cx: float, y: float, rotate: bool) -> str:
    if not rotate:
        return svg.text(cx, y, svg.clip(label, 9), "middle", 11, svg.INK)
    turn = f' transform="rotate(-45 {svg.num(cx)} {svg.num(y - 6)})"'
    return svg.text(cx, y - 6, svg.clip(label, 9), "end", 10, svg.INK, extra=turn)


def rollout_chart(lanes: Sequence[RolloutLane]) -> str:
    """One lane per rollout on a shared 'time since it started' axis, so durations compare."""
    if not lanes:
        return ""
    lane_h, label_w, tail = 40, 250, 150
    frame = Frame(label_w, 44, WIDTH - label_w - tail, lane_h * len(lanes))
    longest = max(lane.seconds for lane in lanes)
    ticks = svg.duration_ticks(longest)
    x = Linear(0, ticks[-1], frame.left, frame.right)
    caption = "time since the rollout started"
    parts = [
        svg.x_axis(frame, x, ticks, [svg.duration(t) for t in ticks], caption),
        svg.legend(_rollout_legend(), 16, 18),
    ]
    for i, lane in enumerate(lanes):
        parts.append(_lane(lane, frame.top + i * lane_h, lane_h, x))
    height = int(frame.bottom) + 52
    return svg.svg(WIDTH, height, "rollout timelines", parts, "rollouts")


def _rollout_legend() -> list[tuple[str, str, str]]:
    phases = [(p.replace("_", " "), c, "bar") for p, c in PHASE_COLOURS.items()]
    endings = [(e.replace("_", " "), c, s) for e, (c, s) in ENDING_STYLE.items()]
    return phases + endings


def _lane(lane: RolloutLane, top: float, height: float, x: Linear) -> str:
    mid = top + height / 2
    who = f"{lane.start:%m-%d %H:%M:%S} · by {lane.requested_by}"
    parts = [
        svg.line(x.start, top + height, x.end, top + height, svg.GRID),
        f"<g>{svg.title(f'rollout {lane.rollout_id}')}",
        svg.text(16, mid - 3, svg.clip(f"{lane.model} · {lane.kind}", 34), size=12, fill=svg.INK),
        svg.text(16, mid + 12, svg.clip(who, 46), size=10),
        "</g>",
    ]
    for step, start, end in lane.segments():
        colour = PHASE_COLOURS.get(step.phase, svg.GREY)
        left, right = x(start), max(x(end), x(start) + 2)  # a phase of a few ms still shows
        tip = f"{step.phase} · {svg.duration(end - start)} · {_utc(step.start)} · {step.reason}"
        parts.append(svg.rect(left, mid - 8, right - left, 16, colour, tip, step.phase))
    colour, shape = ENDING_STYLE[lane.ending]
    end_x = x(lane.seconds)
    tip = f"{lane.ending} after {svg.duration(lane.seconds)} · {lane.ending_reason}"
    parts.append(svg.marker(shape, end_x + 8, mid, colour, tip, r=6))
    label = f"{lane.ending.replace('_', ' ')} · {svg.duration(lane.seconds)}"
    parts.append(svg.text(end_x + 20, mid + 4, label, size=11, fill=svg.INK))
    return "".join(parts)


def outcome_chart(counts: Mapping[str, Mapping[str, int]]) -> str:
    """One stacked bar per action: how often it was accepted, rejected, duplicated..."""
    if not counts:
        return ""
    row_h, label_w = 24, 190
    frame = Frame(label_w, 44, WIDTH - label_w - 70, row_h * len(counts))
    most = max(sum(c.values()) for c in counts.values())
    ticks = [t for t in svg.nice_ticks(0, most, 6) if t.is_integer()]  # no 0.5 of a record
    ticks = ticks if ticks[-1] >= most else [*ticks, ticks[-1] + (ticks[1] - ticks[0])]
    x = Linear(0, ticks[-1], frame.left, frame.right)
    parts = [svg.x_axis(frame, x, ticks, [f"{t:g}" for t in ticks], "audit records")]
    seen = {o for c in counts.values() for o in c}
    legend = [(o.replace("_", " "), c, "bar") for o, c in OUTCOME_COLOURS.items() if o in seen]
    parts.append(svg.legend(legend, 16, 18))
    for i, (action, by_outcome) in enumerate(counts.items()):
        parts.append(_bar(action, by_outcome, frame.top + i * row_h, row_h, x))
    return svg.svg(WIDTH, int(frame.bottom) + 52, "audit outcomes by action", parts, "outcomes")


def _bar(action: str, by_outcome: Mapping[str, int], top: float, h: float, x: Linear) -> str:
    mid = top + h / 2
    parts = [svg.text(x.start - 10, mid + 4, svg.clip(action, 28), "end", 12, svg.INK)]
    total = 0
    for outcome, count in by_outcome.items():
        colour = OUTCOME_COLOURS.get(outcome, svg.GREY)
        tip = f"{action} · {outcome}: {count}"
        width = x(total + count) - x(total)
        parts.append(svg.rect(x(total), mid - 7, width, 14, colour, tip, outcome))
        total += count
    parts.append(svg.text(x(total) + 6, mid + 4, str(total), size=11, fill=svg.INK))
    return "".join(parts)


def _time_scale(epochs: Sequence[float], frame: Frame) -> tuple[Linear, list[float], str]:
    lo, hi = min(epochs), max(epochs)
    pad = (hi - lo) * 0.06 or 60.0  # keeps the first and last markers off the frame
    ticks, fmt = svg.time_ticks(lo - pad, hi + pad)
    return Linear(lo - pad, hi + pad, frame.left, frame.right), ticks, fmt


def _utc(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def _time_caption(points: Sequence[ModelVersionPoint]) -> str:
    first, last = points[0].time, points[-1].time
    days = f"{first:%Y-%m-%d}" + (f" to {last:%Y-%m-%d}" if last.date() != first.date() else "")
    return f"registration time (UTC, {days})"
