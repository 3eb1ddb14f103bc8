"""Small SVG building blocks for the report: scales, ticks, axes, marks and legends.

Every string that reaches the markup goes through ``esc``: the audit trail holds
attacker-influenced text. The SVG is inline HTML5, so it needs no namespace URL.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.domain.text import neutralise

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
BLUE = "#0072B2"
SKY = "#56B4E9"
GREEN = "#009E73"
ORANGE = "#E69F00"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#9E9E9E"
LIGHT_GREY = "#C8C8C8"
INK = "#1F2328"
MUTED = "#59636E"
GRID = "#E6E8EB"

# Tick steps in seconds: round to the eye, from one second to a month.
_TIME_STEPS = (
    *(1, 2, 5, 10, 15, 30),
    *(60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 10800, 21600, 43200),
    *(86400, 172800, 604800, 1209600, 2592000, 7776000, 15552000, 31536000),
)


def esc(value: object) -> str:
    """HTML-escaped, after the one neutralising function: a browser, too, would obey a bidi
    override or show a control character as if it were text."""
    return html.escape(neutralise(str(value)), quote=True)


def clip(text: str, width: int) -> str:
    """At most ``width`` characters, with an ellipsis when cut (escape after clipping)."""
    return text if len(text) <= width else text[: width - 1] + "…"


def num(value: float) -> str:
    """Coordinates with two decimals at most: small files, exact enough for a screen."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Linear:
    """Maps a domain [lo, hi] onto pixels [start, end] (end < start for a y axis)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return self.start + (value - self.lo) / span * (self.end - self.start)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 times a power of ten) covering [lo, hi]."""
    if hi <= lo:
        return [float(lo)]
    raw = (hi - lo) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    count = int((hi - first) / step + 1e-9) + 1
    return [float(round(first + i * step, 10)) for i in range(count)]


def time_ticks(lo: float, hi: float, count: int = 6) -> tuple[list[float], str]:
    """Tick positions (epoch seconds, on round UTC times) and their strftime format."""
    span = max(hi - lo, 1.0)
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    first = math.ceil(lo / step) * step
    ticks = [float(first + i * step) for i in range(int((hi - first) // step) + 1)]
    if step < 60:
        fmt = "%H:%M:%S"
    elif step < 86400:
        fmt = "%H:%M" if span < 86400 else "%d %b %H:%M"
    else:
        fmt = "%d %b"
    return ticks, fmt


def utc_label(epoch: float, fmt: str) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(fmt)


def duration_ticks(longest: float, count: int = 6) -> list[float]:
    step = next((s for s in _TIME_STEPS if max(longest, 1.0) / s <= count), _TIME_STEPS[-1])
    return [float(i * step) for i in range(int(longest // step) + 2)]


def duration(seconds: float) -> str:
    """A short human duration: 45 s, 2 min 30 s, 3 h 5 min, 2 d 4 h."""
    s = round(seconds)
    if s < 60:  # tenths only where they matter: short phases
        return f"{seconds:.1f} s" if seconds < 10 and seconds != s else f"{s} s"
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60)):
        if s >= size:
            rest = (s % size) // sub_size
            return f"{s // size} {unit}" + (f" {rest} {sub}" if rest else "")
    return f"{s // 60} min" + (f" {s % 60} s" if s % 60 else "")


def svg(width: int, height: int, label: str, body: Iterable[str], chart: str) -> str:
    return (
        f'<svg class="chart" data-chart="{esc(chart)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}">'
        + "".join(body)
        + "</svg>"
    )


def title(text: str) -> str:
    """A native tooltip: shown on hover without any script (and kept short: reasons in the
    trail can be long)."""
    return f"<title>{esc(clip(text, 300))}</title>" if text else ""


def rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "", mark: str = "") -> str:
    kind = f' class="mark" data-mark="{esc(mark)}"' if mark else ""
    return (
        f'<rect{kind} x="{num(x)}" y="{num(y)}" width="{num(max(w, 0))}" '
        f'height="{num(max(h, 0))}" fill="{fill}">{title(tip)}</rect>'
    )


def line(x1: float, y1: float, x2: float, y2: float, stroke: str, width: float = 1) -> str:
    return (
        f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" '
        f'stroke="{stroke}" stroke-width="{num(width)}"/>'
    )


def polyline(points: Sequence[tuple[float, float]], stroke: str) -> str:
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return (
        f'<polyline points="{coords}" fill="none" stroke="{stroke}" stroke-width="2" '
        'stroke-linejoin="round" stroke-opacity="0.85"/>'
    )


def text(
    x: float,
    y: float,
    content: str,
    anchor: str = "start",
    size: int = 12,
    fill: str = MUTED,
    weight: str = "normal",
    extra: str = "",
) -> str:
    return (
        f'<text x="{num(x)}" y="{num(y)}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}" font-weight="{weight}"{extra}>{esc(content)}</text>'
    )


def marker(
    shape: str,
    x: float,
    y: float,
    colour: str,
    tip: str = "",
    hollow: bool = False,
    r: float = 5,
    counted: bool = True,
) -> str:
    """A data point; the shape repeats what the colour says, for readers who cannot tell.
    ``counted`` marks it as data (class "mark") rather than a legend sample."""
    paint = f'fill="#fff" stroke="{colour}" stroke-width="2"' if hollow else f'fill="{colour}"'
    if counted:
        paint += f' class="mark" data-mark="{esc(shape)}"'
    if shape == "square":
        box = f'x="{num(x - r)}" y="{num(y - r)}" width="{num(2 * r)}" height="{num(2 * r)}"'
        return f"<rect {box} {paint}>{title(tip)}</rect>"
    if shape in ("triangle", "diamond", "cross"):
        return f'<path d="{_shape_path(shape, x, y, r)}" {paint}>{title(tip)}</path>'
    return f'<circle cx="{num(x)}" cy="{num(y)}" r="{num(r)}" {paint}>{title(tip)}</circle>'


def _shape_path(shape: str, x: float, y: float, r: float) -> str:
    if shape == "triangle":
        pts = [(x, y - r * 1.15), (x + r * 1.15, y + r * 0.85), (x - r * 1.15, y + r * 0.85)]
    elif shape == "diamond":
        pts = [(x, y - r * 1.3), (x + r * 1.3, y), (x, y + r * 1.3), (x - r * 1.3, y)]
    else:  # a fat X: the rolled-back ending
        a, b = r, r * 0.4
        pts = [
            (x - a, y - a + b), (x - a + b, y - a), (x, y - b), (x + a - b, y - a),
            (x + a, y - a + b), (x + b, y), (x + a, y + a - b), (x + a - b, y + a),
            (x, y + b), (x - a + b, y + a), (x - a, y + a - b), (x - b, y),
        ]  # fmt: skip
    return "M" + " L".join(f"{num(px)} {num(py)}" for px, py in pts) + " Z"


@dataclass(frozen=True)
class Frame:
    """The plot area inside an SVG: left/top margins and its width/height in pixels."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


def y_axis(frame: Frame, scale: Linear, ticks: Sequence[float], fmt: str, caption: str) -> str:
    """Horizontal grid lines with labels on the left, and the axis caption turned upright."""
    parts = []
    for tick in ticks:
        y = scale(tick)
        parts.append(line(frame.left, y, frame.right, y, GRID))
        parts.append(text(frame.left - 8, y + 4, format(tick, fmt), "end", 11))
    mid = frame.top + frame.height / 2
    rotate = f' transform="rotate(-90 14 {num(mid)})"'
    parts.append(text(14, mid, caption, "middle", 12, MUTED, extra=rotate))
    return "".join(parts)


def x_axis(
    frame: Frame, scale: Linear, ticks: Sequence[float], labels: Sequence[str], caption: str
) -> str:
    """The baseline, tick marks with labels under it, and the caption below them."""
    parts = [line(frame.left, frame.bottom, frame.right, frame.bottom, MUTED)]
    for tick, label in zip(ticks, labels, strict=True):
        x = scale(tick)
        parts.append(line(x, frame.bottom, x, frame.bottom + 5, MUTED))
        parts.append(text(x, frame.bottom + 18, label, "middle", 11))
    centre = frame.left + frame.width / 2
    parts.append(text(centre, frame.bottom + 38, caption, "middle", 12))
    return "".join(parts)


def legend(items: Sequence[tuple[str, str, str]], x: float, y: float) -> str:
    """A row of (label, colour, shape) entries; shape "bar" draws a swatch."""
    parts, cursor = [], x
    for label, colour, shape in items:
        if shape == "bar":
            parts.append(rect(cursor - 6, y - 6, 12, 12, colour))
        else:
            parts.append(marker(shape, cursor, y, colour, r=4.5, counted=False))
        parts.append(text(cursor + 11, y + 4, label, size=12, fill=INK))
        cursor += 28 + 7 * len(label)
    return '<g class="legend">' + "".join(parts) + "</g>"
