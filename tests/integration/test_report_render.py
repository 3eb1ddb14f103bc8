"""The report renders in a real browser: headless Chromium lays out each chart's SVG with
its marks, the page (under its own CSP) paints the charts' colours where the charts are,
and hostile text from the trail never becomes markup.

Records come through the real SQLite audit sink. Two browser runs: one dumps the DOM of a
copy that a small script annotates with each chart's layout box (its hash is allowed by
the copy's CSP), the other screenshots the report itself, untouched."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from shared.adapters.local.audit_sink import SqliteAuditSink
from shared.ops.render.report import build_report
from shared.ops.render.report.html import CSP
from tests.fakes import FakeClock
from tests.tools import tool_path
from tests.unit.test_report import NOW, START, STATUS, story

WIDTH, HEIGHT = 1280, 4200
TIMEOUT = 60.0
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # else it reaches for the (closed) network
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    f"--window-size={WIDTH},{HEIGHT}",
)
LOCATE = (
    "for (const s of document.querySelectorAll('svg.chart')) {"
    " const r = s.getBoundingClientRect();"
    " s.setAttribute('data-box', [r.left + scrollX, r.top + scrollY, r.right + scrollX,"
    " r.bottom + scrollY].map(Math.round).join(',')); }"
    " document.body.setAttribute('data-located', 'yes');"
)
# Colours each chart must paint (Okabe-Ito, as shared/ops/render/report/svg.py defines them).
BLUE, SKY, GREEN = (0x00, 0x72, 0xB2), (0x56, 0xB4, 0xE9), (0x00, 0x9E, 0x73)
ORANGE, VERMILLION, PURPLE = (0xE6, 0x9F, 0x00), (0xD5, 0x5E, 0x00), (0xCC, 0x79, 0xA7)
LIGHT_GREY = (0xC8, 0xC8, 0xC8)
CHART_COLOURS = {
    "metrics": (BLUE, GREEN, PURPLE, ORANGE),
    "gates": (GREEN, ORANGE, VERMILLION),
    "rollouts": (LIGHT_GREY, SKY, BLUE, ORANGE, GREEN, VERMILLION),
    "outcomes": (BLUE, GREEN, LIGHT_GREY, VERMILLION, ORANGE, PURPLE),
}


class Dom(HTMLParser):
    """Each chart's attributes and the kinds of its marks; every element's tag."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, str | None]] = {}
        self.marks: dict[str, Counter[str]] = {}
        self.tags: Counter[str] = Counter()
        self.body: dict[str, str | None] = {}
        self._chart = ""
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags[tag] += 1
        if tag == "body":
            self.body = found
        if tag == "svg" and found.get("class") == "chart":
            self._chart = found.get("data-chart") or ""
            self.charts[self._chart], self.marks[self._chart] = found, Counter()
        elif self._chart and found.get("class") == "mark":
            self.marks[self._chart][found.get("data-mark") or ""] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self._chart = ""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report")


@pytest.fixture(scope="module")
def report(workdir: Path) -> Path:
    """The report of a day of audit records, written through the real SQLite sink."""
    clock = FakeClock(START)
    sink = SqliteAuditSink(workdir / "audit.db", clock)
    elapsed = 0.0
    for at, entry in story():
        clock.advance(at - elapsed)
        elapsed = at
        sink.append(entry)
    page = build_report(sink.records(), STATUS, sink.verify(), NOW)
    sink.close()
    path = workdir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def chromium() -> Path:
    return tool_path("MLOPS_CHROMIUM", "/usr/bin/chromium", "chromium")


def run_chromium(binary: Path, profile: Path, *args: str) -> str:
    """Chromium in its own process group: on a timeout the whole group goes, and nothing
    it started outlives the test either way."""
    command = [str(binary), *FLAGS, f"--user-data-dir={profile}", *args]
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"chromium did not finish within {TIMEOUT:.0f} s: {command}")
    finally:  # usually already gone: Chromium exited and took its helpers along
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err[-2000:]
    return out


def located_dom(binary: Path, report: Path, workdir: Path) -> Dom:
    """A copy of the report whose CSP also allows the locator script, by its hash."""
    digest = base64.b64encode(hashlib.sha256(LOCATE.encode()).digest()).decode()
    page = report.read_text(encoding="utf-8")
    assert html.escape(CSP) in page
    page = page.replace(html.escape(CSP), html.escape(f"{CSP}; script-src 'sha256-{digest}'"))
    page = page.replace("</body>", f"<script>{LOCATE}</script></body>", 1)
    copy = workdir / "located.html"
    copy.write_text(page, encoding="utf-8")
    return Dom(run_chromium(binary, workdir / "profile-dom", "--dump-dom", copy.as_uri()))


def box(dom: Dom, chart: str) -> tuple[int, int, int, int]:
    left, top, right, bottom = map(int, str(dom.charts[chart]["data-box"]).split(","))
    return left, top, right, bottom


def colour_counts(image: Image.Image) -> list[tuple[int, tuple[int, ...]]]:
    """(pixel count, RGB) for every colour in ``image`` (an RGB image)."""
    counted = image.getcolors(maxcolors=image.width * image.height) or []
    return [(n, rgb) for n, rgb in counted if isinstance(rgb, tuple)]


def pixels_near(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 12) -> int:
    return sum(
        n
        for n, rgb in colour_counts(image)
        if all(abs(a - b) <= tolerance for a, b in zip(rgb[:3], colour, strict=True))
    )


@pytest.fixture(scope="module")
def rendered(chromium: Path, report: Path, workdir: Path) -> Iterator[tuple[Dom, Image.Image]]:
    """Both browser runs, once for the module's tests."""
    dom = located_dom(chromium, report, workdir)
    shot = workdir / "report.png"
    run_chromium(chromium, workdir / "profile-shot", f"--screenshot={shot}", report.as_uri())
    with Image.open(shot) as image:
        yield dom, image.convert("RGB")


def test_every_chart_is_laid_out_with_its_marks(rendered: tuple[Dom, Image.Image]) -> None:
    dom, _ = rendered
    assert dom.body.get("data-located") == "yes"  # the browser ran the locator: boxes are real
    assert list(dom.charts) == ["metrics", "gates", "rollouts", "outcomes"]
    marks = dom.marks
    assert marks["metrics"] == {"circle": 5, "square": 5, "triangle": 5, "diamond": 5}
    assert marks["gates"] == {"passed": 4, "failed": 1, "rejected": 1}
    phases = {"planned": 6, "deploying": 6, "smoke_testing": 5, "canary": 2, "promoted": 3}
    endings = {"circle": 3, "cross": 1, "diamond": 1, "triangle": 1}  # completed, rolled back...
    assert marks["rollouts"] == {**phases, **endings}
    pairs = Counter((e.action, e.outcome) for _, e in story())
    assert sum(marks["outcomes"].values()) == len(pairs)  # one segment per action and outcome
    assert marks["outcomes"] == Counter(outcome for _, outcome in pairs)
    tops = [box(dom, chart)[1] for chart in dom.charts]
    assert tops == sorted(tops) and tops[-1] < HEIGHT - 300  # in order, all in the shot
    for chart in dom.charts:
        left, top, right, bottom = box(dom, chart)
        assert right - left >= 900 and bottom - top >= 100, (chart, box(dom, chart))


def test_hostile_text_stays_text_in_the_browser(rendered: tuple[Dom, Image.Image]) -> None:
    dom, _ = rendered
    assert dom.tags["script"] == 1  # the locator's; none from the trail's "<script>" text
    assert dom.tags["img"] == 0 and dom.tags["iframe"] == 0
    assert dom.tags["svg"] == 4  # the trail's '<svg onload=...>' did not add one


def test_the_screenshot_paints_each_chart(rendered: tuple[Dom, Image.Image]) -> None:
    dom, image = rendered
    assert image.size == (WIDTH, HEIGHT)
    whole = colour_counts(image)
    white = sum(n for n, rgb in whole if min(rgb) >= 250)
    assert len(whole) > 200 and white < 0.97 * WIDTH * HEIGHT  # not blank, not one flat colour
    for chart, colours in CHART_COLOURS.items():
        region = image.crop(box(dom, chart))
        found = {colour: pixels_near(region, colour) for colour in colours}
        assert all(n >= 40 for n in found.values()), (chart, found)
    header = image.crop((0, 0, WIDTH, box(dom, "metrics")[1]))
    assert pixels_near(header, SKY) == 0  # a phase colour above the charts would be misplaced
