"""What compare and sweep share once their arms are known: the grid (grid.run) under one
live display and the signal handlers, its result made and its files written first, and
what a stopped grid says (where its finished trials are, and how to go on)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_rules.errors import Interrupted

if TYPE_CHECKING:
    from rich.console import Console

    from mnist_rules.data.mnist import MnistData
    from mnist_rules.grid.records import TrialRecord, Tuning
    from mnist_rules.grid.run import Grid
    from mnist_rules.report.comparison import Comparison


def run_grid(
    grid: Grid,
    data: MnistData,
    console: Console,
    epochs: int,
    noun: str,
    comparison_of: Callable[[list[TrialRecord], Tuning | None], Comparison],
    outputs: tuple[Path | None, Path | None],
) -> Comparison:
    """Run `grid` (its trials not yet in its storage) and return its Comparison, whose
    JSON and CSV are written before anything is printed."""
    from mnist_rules.api.series import write_files
    from mnist_rules.report.grid_progress import GridProgress
    from mnist_rules.training.interrupts import stop_after_update_on_signals

    start = time.perf_counter()
    try:
        with stop_after_update_on_signals(), GridProgress(epochs, console, noun) as reporter:
            finals, tuning = grid.run(data, reporter)
    except Interrupted as stopped:
        where = (
            f"The finished trials are in {grid.storage}: run the same command to go on from them."
            if grid.storage is not None
            else "The grid was held in memory, so nothing of it was kept; give --storage"
            " sqlite:///grid.db to be able to resume one."
        )
        stopped.args = (f"Interrupted: the grid stopped in a trial. {where}",)
        raise
    comparison = comparison_of(finals, tuning)
    write_files(comparison, *outputs)
    comparison.grid_seconds = time.perf_counter() - start  # not in the JSON: the clock's
    comparison.trials_run = reporter.trials_run
    return comparison


def total_line(comparison) -> str:
    """What the grid took in all, printed last: set-up, readings and training."""
    minutes, seconds = divmod(comparison.grid_seconds, 60)
    took = f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"
    return f"the grid took {took} in all, {comparison.trials_run} trials trained here"


def machine(device) -> str:
    """The device a grid's runs take (`--device` resolved) and its name: part of what
    names the grid's study, so that one storage never mixes a CPU's trials with a GPU's,
    or two kinds of CPU's."""
    from mnist_rules.device import describe, resolve_device

    resolved = resolve_device(device)
    return f"{resolved.type}: {describe(resolved)}"
