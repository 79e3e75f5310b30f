"""Progress bars for long batch work, on stderr so that ``--json`` output stays clean.

``Progress`` is what the drivers call; it draws with rich when stderr is a terminal and
does nothing otherwise (tests, pipes, CI logs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress


class Step(Protocol):
    """One bar: advanced as work is done."""

    def advance(self, amount: int) -> None:
        """Count ``amount`` more units done."""

    def update_total(self, total: int) -> None:
        """Set how many units there are in all."""


class _RichStep:
    """A bar of a rich Progress."""

    def __init__(self, progress: RichProgress, task: TaskID) -> None:
        self._progress = progress
        self._task = task

    def advance(self, amount: int) -> None:
        self._progress.advance(self._task, amount)

    def update_total(self, total: int) -> None:
        self._progress.update(self._task, total=total)


class Progress:
    """Progress bars on stderr; ``enabled=False`` (or a stderr that is no terminal) draws
    nothing."""

    def __init__(self, enabled: bool = True) -> None:
        console = Console(stderr=True)
        self._rich = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=not (enabled and console.is_terminal),
            transient=False,
        )

    def __enter__(self) -> Progress:
        self._rich.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._rich.__exit__(kind, error, trace)

    @contextmanager
    def step(self, description: str, total: int | None) -> Iterator[Step]:
        """A bar for one phase of the work; it stays on screen when the phase ends."""
        task = self._rich.add_task(description, total=total)
        try:
            yield _RichStep(self._rich, task)
        finally:
            self._rich.stop_task(task)
