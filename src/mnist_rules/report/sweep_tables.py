"""What `sweep` prints: one row per update size, in the order --sizes gave them."""

from __future__ import annotations

import statistics

from rich.table import Table

from mnist_rules.report.comparison import Comparison, median_epoch_seconds, peak_mib, whole_set
from mnist_rules.report.numbers import duration, seconds
from mnist_rules.report.replicate_text import (
    INTERVAL_NOTE,
    join_notes,
    lr_cell,
    reached_cell,
    seconds_cell,
    spread_cell,
    tuning_note,
)
from mnist_rules.training.results import RunResult


def size_heading(run: RunResult) -> str:
    return "all" if whole_set(run) else f"b = {run.batch_size:,}"


def engine_size_heading(run: RunResult) -> str:
    return f"{run.engine} {size_heading(run)}"


def sweep_table(comparison: Comparison) -> Table:
    """A row per size: with one seed each, its run's figures; with several, their
    medians (intervals in brackets) and how many seeds reached the target."""
    target = f"{comparison.target_acc:g}%"
    several = comparison.replicated
    title = "Samples per update swept" + (", over seeds" if several else "")
    table = Table(title=title, title_justify="left")
    for header in (
        "samples / update",
        "updates / epoch",
        "lr",
        "median s / epoch",
        "per update",
        "peak MiB",
        "final acc %",
        "best acc %",
        *(["peaked before last", f"{target} reached"] if several else []),
        f"{target} at epoch",
        f"{target} after s",
    ):
        table.add_column(header, justify="right", overflow="fold")  # no interval cut off
    for label, summary in comparison.summaries().items():
        first, trained = summary.runs[0], summary.trained
        size = f"{first.batch_size:,}" + (" (all)" if whole_set(first) else "")
        if len(comparison.engines) > 1:
            size = f"{first.engine}: {size}"
        lr = lr_cell(comparison, label, first.lr)
        if not trained:  # every seed diverged in its first epoch
            table.add_row(size, "—", lr, *["—"] * (7 if several else 5), "diverged", "—")
            continue
        per_epoch = statistics.median(median_epoch_seconds(run) for run in trained)
        updates = trained[0].final.updates
        counts = [f"{summary.peaked}/{len(trained)}", _reached(summary)] if several else []
        missed = "diverged" if all(summary.diverged) else "not reached"
        table.add_row(
            size,
            f"{updates:,}",
            lr,
            seconds(per_epoch, 2),
            duration(per_epoch / updates),
            max((peak_mib(run) for run in trained), key=_mib),
            spread_cell(summary.final_acc),
            spread_cell(summary.best_acc),
            *counts,
            missed if summary.median_epoch is None else f"{summary.median_epoch:g}",
            seconds_cell(summary.time),
        )
    table.caption = join_notes(INTERVAL_NOTE if several else None, tuning_note(comparison))
    table.caption_justify = "left"
    return table


def _reached(summary) -> str:
    diverged = sum(summary.diverged)
    return reached_cell(summary) + (f" ({diverged} diverged)" if diverged else "")


def _mib(cell: str) -> float:
    return -1.0 if cell == "—" else float(cell.replace(",", ""))
