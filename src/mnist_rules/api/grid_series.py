"""What compare and sweep share once their arms are known: the grid (grid.run) under one
live display and the signal handlers, its result made and its files written first, and
what a stopped grid says (where its finished trials are, and how to go on)."""

from __future__ import annotations

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
    return comparison
