"""The one results table: rows that every benchmark returns, the text table `make bench`
prints, `bench/results.json`, and the README block rendered from it.

A row is ``{"figure", "value", "unit", "goal", "met", "detail"}``: ``value`` is a number (or
None when the figure could not be measured here, with ``detail`` saying why), ``goal`` the
issue's goal as text ("" when the figure has none) and ``met`` True/False (None without a
goal). Timings are medians of several runs; ratios are measured within one run.

    python -m bench.table     # rewrite README.md's block from bench/results.json
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypedDict

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results.json"
README = REPO / "README.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
_BLOCK = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)


class Row(TypedDict):
    figure: str
    value: float | None
    unit: str
    goal: str
    met: bool | None
    detail: str


def row(
    figure: str,
    value: float | None,
    unit: str = "",
    goal: str = "",
    met: bool | None = None,
    detail: str = "",
) -> Row:
    return {
        "figure": figure,
        "value": value,
        "unit": unit,
        "goal": goal,
        "met": met if goal else None,
        "detail": detail,
    }


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def at_least(value: float | None, limit: float) -> bool | None:
    return None if value is None else value >= limit


def number(value: float | None) -> str:
    """Thousands separated above 100, three significant digits below."""
    if value is None:
        return "not measured"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}" if abs(value) >= 0.001 else f"{value:.2g}"


def shown(item: Mapping[str, Any]) -> str:
    text = number(item["value"])
    unit = item["unit"]
    if item["value"] is None or not unit:
        return text
    return f"{text}{unit}" if unit in ("%", "×") else f"{text} {unit}"


def verdict(met: bool | None) -> str:
    return {True: "yes", False: "no", None: "—"}[met]


def text_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """What `make bench` prints: figure | value | goal | met, columns padded."""
    cells = [("figure", "value", "goal", "met")]
    cells += [(r["figure"], shown(r), r["goal"] or "—", verdict(r["met"])) for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(4)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(results: Mapping[str, Any]) -> str:
    """The README block: where it was measured, then the table with each row's note."""
    machine = results["machine"]
    lines = [
        START,
        f"`make bench` on {machine['cpus']} cores, Python {machine['python']}, "
        f"{results['measured']} (generated from `bench/results.json`):",
        "",
        "| figure | measured | goal | met | how, and where the time goes |",
        "|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        figure, goal, detail = (_cell(r[k]) for k in ("figure", "goal", "detail"))
        lines.append(f"| {figure} | {shown(r)} | {goal or '—'} | {verdict(r['met'])} | {detail} |")
    for raw in results.get("raw", {}).values():
        for extra in raw.get("tables", []) if isinstance(raw, Mapping) else ():
            lines += ["", f"{extra['title']}:", ""]
            lines.append("| " + " | ".join(extra["header"]) + " |")
            lines.append("|" + "---|" * len(extra["header"]))
            lines += ["| " + " | ".join(_cell(c) for c in cells) + " |" for cells in extra["rows"]]
    lines.append(END)
    return "\n".join(lines)


def rewrite(readme: str, results: Mapping[str, Any]) -> str:
    """``readme`` with its bench block replaced; the block must exist exactly once."""
    if len(_BLOCK.findall(readme)) != 1:
        raise ValueError(f"README.md needs exactly one {START} … {END} block")
    return _BLOCK.sub(lambda _: markdown(results), readme)


def block(readme: str) -> str:
    match = _BLOCK.search(readme)
    if match is None:
        raise ValueError(f"README.md has no {START} … {END} block")
    return match.group(0)


def load(path: Path = RESULTS) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def merged(previous: Iterable[Mapping[str, Any]], bench: str, rows: Iterable[Row]) -> list[Any]:
    """``previous`` rows with ``bench``'s replaced by ``rows`` (in place, else appended)."""
    fresh = [{**r, "bench": bench} for r in rows]
    out: list[Any] = []
    for item in previous:
        if item.get("bench") == bench:
            out.extend(fresh)
            fresh = []
        else:
            out.append(item)
    return out + fresh


def main() -> None:
    README.write_text(rewrite(README.read_text(), load()))


if __name__ == "__main__":
    main()
