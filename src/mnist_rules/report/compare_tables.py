"""What `compare` prints: the summary table, the per-epoch accuracy table, and a compact
accuracy curve drawn in the terminal (uniplot)."""

from __future__ import annotations

import statistics

from rich.table import Table
from rich.text import Text

from mnist_rules.report.comparison import Comparison, median_epoch_seconds, overfit_peak, peak_mib
from mnist_rules.report.numbers import seconds
from mnist_rules.report.replicate_text import (
    INTERVAL_NOTE,
    epoch_cell,
    join_notes,
    lr_cell,
    reached_cell,
    seconds_cell,
    spread_cell,
    tuning_note,
)
from mnist_rules.report.replicates import median_band

PEAK = "▲"
FIRST_AT_TARGET = "*"
PEAK_NOTE = (
    f"{PEAK} peak: test accuracy fell in each of the two epochs after it; the network has"
    " started to memorise its training data."
)


def summary_table(comparison: Comparison) -> Table:
    """A row per label: with one seed each, its run's figures; with several, their
    medians (intervals in brackets) and how many seeds reached the target."""
    if comparison.replicated:
        return _replicates_table(comparison)
    target = f"{comparison.target_acc:g}%"
    table = Table(title="The update rules compared", title_justify="left")
    engines = len(comparison.engines) > 1  # compare --engines: a column for the engine
    for header in (
        *(["engine"] if engines else []),
        "rule",
        "lr",
        "samples / update",
        "updates / epoch",
        "median s / epoch",
        "total train s",
        "peak MiB",
        "final acc %",
        "best acc %",
        "best epoch",
        f"{target} at epoch",
        f"{target} after s",
    ):
        table.add_column(header, justify="left" if header in ("rule", "engine") else "right")
    reached = comparison.reached()
    for run in comparison.runs:
        label = comparison.label(run)
        hit = reached[label]
        if not run.epochs:  # diverged in its first epoch
            table.add_row(*([run.engine] if engines else []), run.rule,
                          lr_cell(comparison, label, run.lr), f"{run.batch_size:,}",
                          *["—"] * 7, "diverged", "—")  # fmt: skip
            continue
        peak = overfit_peak(run)
        missed = "diverged" if comparison.diverged(run) else "not reached"
        table.add_row(
            *([run.engine] if engines else []),
            run.rule,
            lr_cell(comparison, label, run.lr),
            f"{run.batch_size:,}",
            f"{run.final.updates:,}",  # as recorded: 1, ceil(N/b) or N
            seconds(median_epoch_seconds(run), 2),
            seconds(run.total_train_seconds),
            peak_mib(run),
            f"{run.final.test_acc:.2f}",
            f"{run.best.test_acc:.2f}",
            _best_epoch(run.best.epoch, peak),
            missed if hit is None else f"{hit.epoch}",
            "—" if hit is None else seconds(hit.seconds),
        )
    peaked = any(overfit_peak(run) is not None for run in comparison.runs)
    table.caption = join_notes(PEAK_NOTE if peaked else None, tuning_note(comparison))
    table.caption_justify = "left"
    return table


def _replicates_table(comparison: Comparison) -> Table:
    target = f"{comparison.target_acc:g}%"
    table = Table(title="The update rules compared, over seeds", title_justify="left")
    engines = len(comparison.engines) > 1
    for header in (
        *(["engine"] if engines else []),
        "rule",
        "lr",
        "samples / update",
        "updates / epoch",
        "median s / epoch",
        "peak MiB",
        "final acc %",
        "best acc %",
        "peaked before last",
        f"{target} reached",
        f"{target} at epoch",
        f"{target} after s",
    ):
        justify = "left" if header in ("rule", "engine") else "right"
        table.add_column(header, justify=justify, overflow="fold")  # no interval cut off
    for label, summary in comparison.summaries().items():
        first, trained = summary.runs[0], summary.trained
        per_epoch = [median_epoch_seconds(run) for run in trained]
        table.add_row(
            *([first.engine] if engines else []),
            first.rule,
            lr_cell(comparison, label, first.lr),
            f"{first.batch_size:,}",
            f"{trained[0].final.updates:,}" if trained else "—",
            seconds(statistics.median(per_epoch), 2) if per_epoch else "—",
            max((peak_mib(run) for run in trained), key=_mib, default="—"),
            spread_cell(summary.final_acc),
            spread_cell(summary.best_acc),
            f"{summary.peaked}/{len(trained)}",
            reached_cell(summary) + (f" ({sum(summary.diverged)} diverged)"
                                     if any(summary.diverged) else ""),
            epoch_cell(summary),
            seconds_cell(summary.time),
        )  # fmt: skip
    table.caption = join_notes(INTERVAL_NOTE, tuning_note(comparison))
    table.caption_justify = "left"
    return table


def _mib(cell: str) -> float:
    return -1.0 if cell == "—" else float(cell.replace(",", ""))


def _best_epoch(best: int, peak: int | None) -> str:
    if peak is None:
        return f"{best}"
    # A tie for the best: the peak is the last epoch that reached it.
    return f"{best} {PEAK}" if peak == best else f"{best} ({PEAK} {peak})"


def accuracy_table(
    comparison: Comparison, heading=lambda run: f"{run.rule} rule", noun: str = "rule"
) -> Table:
    """Epochs as rows, runs as columns (`heading`: each one's); the epoch that first
    reached the target and an overfitting peak are marked (in characters, not only
    style: logs keep them). With several seeds, a column per label: their medians."""
    if comparison.replicated:
        return _median_accuracy_table(comparison, heading, noun)
    table = Table(title="Test accuracy (%) after each epoch", title_justify="left")
    table.add_column("after epoch", justify="right")
    for run in comparison.runs:
        table.add_column(heading(run), justify="right")
    reached = comparison.reached()
    peaks = {comparison.label(run): overfit_peak(run) for run in comparison.runs}
    for i in range(max(len(run.epochs) for run in comparison.runs)):
        cells = [str(i + 1)]
        for run in comparison.runs:
            if i >= len(run.epochs):
                cells.append("")
                continue
            e = run.epochs[i]
            hit = reached[comparison.label(run)]
            first = hit is not None and hit.epoch == e.epoch
            cell = Text(f"{e.test_acc:.2f}", style="bold" if first else "")
            cell.append(f" {FIRST_AT_TARGET}" if first else "  ")
            if peaks[comparison.label(run)] == e.epoch:
                cell.append(f" {PEAK}")
            cells.append(cell)
        table.add_row(*cells)
    target = f"{comparison.target_acc:g}%"
    if any(hit is not None for hit in reached.values()):
        table.caption = f"{FIRST_AT_TARGET} the first epoch at or above the target, {target}."
    else:  # no mark to explain
        table.caption = f"No {noun} reached the target, {target}."
    if any(p is not None for p in peaks.values()):
        table.caption += " " + PEAK_NOTE
    table.caption_justify = "left"
    return table


def _median_accuracy_table(comparison: Comparison, heading, noun: str) -> Table:
    table = Table(
        title="Median test accuracy (%) after each epoch, over seeds", title_justify="left"
    )
    table.add_column("after epoch", justify="right")
    curves = median_curves(comparison)
    for label in comparison.labels:
        runs = comparison.runs_of(label)
        table.add_column(f"{heading(runs[0])} ({len(runs)} seeds)", justify="right")
    target = comparison.target_acc
    firsts = {label: next((i for i, acc in enumerate(curve) if acc >= target), None)
              for label, curve in curves.items()}  # fmt: skip
    for i in range(max(len(curve) for curve in curves.values())):
        cells = [str(i + 1)]
        for label, curve in curves.items():
            if i >= len(curve):
                cells.append("")
                continue
            first = firsts[label] == i
            cell = Text(f"{curve[i]:.2f}", style="bold" if first else "")
            cell.append(f" {FIRST_AT_TARGET}" if first else "  ")
            cells.append(cell)
        table.add_row(*cells)
    if any(first is not None for first in firsts.values()):
        table.caption = (
            f"{FIRST_AT_TARGET} the first epoch whose median is at or above the target,"
            f" {target:g}%. Each seed's own: --json's time_to_target."
        )
    else:
        table.caption = f"No {noun}'s median reached the target, {target:g}%."
    table.caption_justify = "left"
    return table


def median_curves(comparison: Comparison) -> dict[str, list[float]]:
    """Each label's median test accuracy after each epoch, over its seeds."""
    return {
        label: median_band([[e.test_acc for e in run.epochs] for run in comparison.runs_of(label)])[
            0
        ]
        for label in comparison.labels
    }


def terminal_curve(comparison: Comparison, width: int) -> Text | None:
    """Test accuracy against epoch, one series per rule (the median over its seeds),
    with the target as a gridline; None where uniplot is not installed (an install made
    with --no-deps)."""
    try:
        from uniplot import plot_to_string  # only when a curve is drawn
    except ImportError:
        return None

    curves = {label: accs for label, accs in median_curves(comparison).items() if accs}
    curve = plot_to_string(
        ys=list(curves.values()),
        xs=[list(range(1, len(accs) + 1)) for accs in curves.values()],
        legend_labels=[label + (" (median)" if comparison.replicated else "") for label in curves],
        lines=True,
        title=f"test accuracy (%) per epoch; gridline: the {comparison.target_acc:g}% target",
        y_gridlines=[comparison.target_acc],
        width=max(20, min(70, width - 12)),
        height=12,
    )
    return Text.from_ansi(curve)
