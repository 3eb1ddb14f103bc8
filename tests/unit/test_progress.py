"""Progress for long waits: plain timestamped lines off a terminal, rich on one."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from rich.console import Console

from shared.ops.cli.progress import PlainProgress, RichProgress, for_stream


class Ticks:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def plain(out: io.StringIO, ticks: Ticks) -> PlainProgress:
    return PlainProgress(out, clock=ticks, now=lambda: datetime(2026, 11, 26, 10, 2, 3))


def test_plain_lines_say_what_is_waited_on_and_for_how_long() -> None:
    out, ticks = io.StringIO(), Ticks()
    with plain(out, ticks).step("training spam-classifier") as step:
        ticks.now += 2
        step.update("job train-spam-1a2b running")
        ticks.now += 1
        step.update("job train-spam-1a2b running")  # unchanged: no new line
        step.update("")  # nothing to say: no line
        ticks.now += 31
        step.update("job train-spam-1a2b running")  # unchanged for 30 s: a heartbeat
        ticks.now += 0.25
        step.update("deploying to blue")
    assert out.getvalue().splitlines() == [
        "10:02:03 training spam-classifier ...",
        "10:02:03   job train-spam-1a2b running (2.0s)",
        "10:02:03   job train-spam-1a2b running (34.0s)",
        "10:02:03   deploying to blue (34.2s)",
        "10:02:03 training spam-classifier: done in 34.2s",
    ]


def test_plain_says_when_a_step_failed_and_lets_the_error_through() -> None:
    out, ticks = io.StringIO(), Ticks()
    with pytest.raises(TimeoutError), plain(out, ticks).step("waiting for blue"):
        ticks.now += 1.5
        raise TimeoutError("still creating")
    assert out.getvalue().splitlines()[-1] == (
        "10:02:03 waiting for blue: failed after 1.5s (TimeoutError)"
    )


def tty() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=100, color_system="standard"), out


def test_on_a_terminal_rich_draws_a_spinner_and_leaves_a_tick() -> None:
    console, out = tty()
    ticks = Ticks()
    with RichProgress(console, clock=ticks).step("training spam-classifier") as step:
        step.update("job [train-1] running")  # brackets are text, not markup
        ticks.now += 3.25
    written = out.getvalue()
    assert "\x1b[" in written  # drawn with terminal control codes
    assert "job [train-1] running" in written  # the live line showed the detail
    assert "✓" in written and "training spam-classifier" in written and "3.2s" in written


def test_on_a_terminal_a_failure_leaves_a_cross() -> None:
    console, out = tty()
    with pytest.raises(RuntimeError), RichProgress(console).step("deploying blue"):
        raise RuntimeError("boom")
    assert "✗" in out.getvalue() and "(RuntimeError)" in out.getvalue()


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_stream_decides_which_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "NO_COLOR", "TERM"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(for_stream(io.StringIO()), PlainProgress)
    assert isinstance(for_stream(FakeTerminal()), RichProgress)
