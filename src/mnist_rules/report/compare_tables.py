"""What `compare` prints: the summary table, the per-epoch accuracy table, and a compact
accuracy curve drawn in the terminal (uniplot)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from mnist_rules.report.comparison import Comparison, median_epoch_seconds, overfit_peak, peak_mib
from mnist_rules.report.numbers import seconds

PEAK = "▲"
FIRST_AT_TARGET = "*"
PEAK_NOTE = (
    f"{PEAK} peak: test accuracy fell in each of the two epochs after it; the network has"
    " started to memorise its training data."
)


def summary_table(comparison: Comparison) -> Table:
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
        hit = reached[comparison.label(run)]
        peak = overfit_peak(run)
        table.add_row(
            *([run.engine] if engines else []),
            run.rule,
            f"{run.lr:g}",
            f"{run.batch_size:,}",
            f"{run.final.updates:,}",  # as recorded: 1, ceil(N/b) or N
            seconds(median_epoch_seconds(run), 2),
            seconds(run.total_train_seconds),
            peak_mib(run),
            f"{run.final.test_acc:.2f}",
            f"{run.best.test_acc:.2f}",
            _best_epoch(run.best.epoch, peak),
            "not reached" if hit is None else f"{hit.epoch}",
            "—" if hit is None else seconds(hit.seconds),
        )
    if any(overfit_peak(run) is not None for run in comparison.runs):
        table.caption, table.caption_justify = PEAK_NOTE, "left"
    return table


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
    style: logs keep them)."""
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


def terminal_curve(comparison: Comparison, width: int) -> Text | None:
    """Test accuracy against epoch, one series per rule, with the target as a gridline;
    None where uniplot is not installed (an install made with --no-deps)."""
    try:
        from uniplot import plot_to_string  # only when a curve is drawn
    except ImportError:
        return None

    runs = comparison.runs
    curve = plot_to_string(
        ys=[[e.test_acc for e in run.epochs] for run in runs],
        xs=[[e.epoch for e in run.epochs] for run in runs],
        legend_labels=[comparison.label(run) for run in runs],
        lines=True,
        title=f"test accuracy (%) per epoch; gridline: the {comparison.target_acc:g}% target",
        y_gridlines=[comparison.target_acc],
        width=max(20, min(70, width - 12)),
        height=12,
    )
    return Text.from_ansi(curve)
