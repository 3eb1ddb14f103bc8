"""Progress for long waits: a spinner with elapsed seconds on a terminal, timestamped lines
everywhere else, so logs and CI stay clean and tests can assert on the text.

    progress = for_stream(sys.stderr)
    with progress.step("training spam-classifier") as step:
        step.update("job train-spam-1a2b running")

Plain lines (stderr is not a terminal)::

    10:02:03 training spam-classifier ...
    10:02:05   job train-spam-1a2b running (2.0s)
    10:02:14 training spam-classifier: done in 11.2s
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Protocol, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as RichBar
from rich.progress import ProgressColumn, SpinnerColumn, Task, TaskID, TextColumn
from rich.table import Column
from rich.text import Text

Clock = Callable[[], float]
Now = Callable[[], datetime]


class Step(Protocol):
    def update(self, detail: str) -> None:
        """What the step is waiting on now; cheap to call often (repeats are dropped)."""
        ...


class Progress(Protocol):
    def step(self, title: str) -> AbstractContextManager[Step]:
        """Show ``title`` until the block ends, then how long it took (or that it failed)."""
        ...


def for_stream(stream: TextIO | None = None) -> Progress:
    """Rich on a terminal, plain lines otherwise. Narration printed to stdout while the
    spinner runs is routed above it only when stdout is the same kind of thing (a terminal):
    a redirected stdout must keep its own content."""
    out = stream or sys.stderr
    console = Console(file=out, highlight=False)
    if console.is_terminal:
        return RichProgress(console, redirect_stdout=_isatty(sys.stdout))
    return PlainProgress(out)


class PlainProgress:
    """One timestamped line when a step starts, when its detail changes, and when it ends;
    an unchanged detail is repeated every ``heartbeat`` seconds so a long wait shows life."""

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Clock = time.monotonic,
        now: Now = datetime.now,
        heartbeat: float = 30.0,
    ) -> None:
        self._stream = stream
        self._clock = clock
        self._now = now
        self._heartbeat = heartbeat

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        line = _PlainStep(self, title, self._clock())
        self.write(f"{title} ...")
        try:
            yield line
        except BaseException as error:
            self.write(f"{title}: failed after {line.elapsed():.1f}s ({type(error).__name__})")
            raise
        self.write(f"{title}: done in {line.elapsed():.1f}s")

    def write(self, text: str) -> None:
        self._stream.write(f"{self._now():%H:%M:%S} {text}\n")
        self._stream.flush()


class _PlainStep:
    def __init__(self, owner: PlainProgress, title: str, started: float) -> None:
        self._owner = owner
        self._title = title
        self._started = started
        self._detail = ""
        self._shown_at = started

    def elapsed(self) -> float:
        return self._owner._clock() - self._started

    def update(self, detail: str) -> None:
        now = self._owner._clock()
        stale = now - self._shown_at >= self._owner._heartbeat
        if not detail or (detail == self._detail and not stale):
            return
        self._detail, self._shown_at = detail, now
        self._owner.write(f"  {detail} ({self.elapsed():.1f}s)")


class _Seconds(ProgressColumn):
    """Elapsed seconds with a decimal: a minute-resolution clock looks frozen."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.elapsed or 0.0:.1f}s", style="progress.elapsed")


class RichProgress:
    """A transient spinner line per step; a ✓ or ✗ line with the time stays behind."""

    def __init__(
        self, console: Console, *, redirect_stdout: bool = False, clock: Clock = time.monotonic
    ) -> None:
        self._console = console
        self._redirect_stdout = redirect_stdout
        self._clock = clock

    @contextmanager
    def step(self, title: str) -> Iterator[Step]:
        started = self._clock()
        bar = RichBar(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.fields[detail]}", style="dim", table_column=Column(no_wrap=True)),
            _Seconds(),
            console=self._console,
            transient=True,
            redirect_stdout=self._redirect_stdout,
            redirect_stderr=False,  # log handlers keep their own stream; a proxy adds nothing
        )
        try:
            with bar:
                task = bar.add_task(escape(title), total=None, detail="")
                yield _RichStep(bar, task)
        except BaseException as error:
            elapsed = self._clock() - started
            self._console.print(
                f"[red]✗[/] {escape(title)} [dim]failed after {elapsed:.1f}s "
                f"({type(error).__name__})[/]",
                highlight=False,
            )
            raise
        elapsed = self._clock() - started
        self._console.print(f"[green]✓[/] {escape(title)} [dim]{elapsed:.1f}s[/]", highlight=False)


class _RichStep:
    def __init__(self, bar: RichBar, task: TaskID) -> None:
        self._bar = bar
        self._task = task

    def update(self, detail: str) -> None:
        self._bar.update(self._task, detail=f"· {escape(detail)}" if detail else "")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False
